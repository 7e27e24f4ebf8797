// Fuzzy matching for the category pickers: every query character must appear in order;
// contiguous runs and word starts score higher, and shorter texts win ties.
"use strict";

window.CuratorFuzzy = (() => {
  // Higher is better; -1 when some query character is missing. Spaces in the query are
  // ignored, so "red wine" finds "Red/Wine glass".
  const score = (query, text) => {
    const q = query.toLowerCase();
    const t = text.toLowerCase();
    let at = -1;
    let total = 0;
    let run = 0;
    for (const ch of q) {
      if (ch === " ") continue;
      const found = t.indexOf(ch, at + 1);
      if (found < 0) return -1;
      run = found === at + 1 ? run + 1 : 0;
      const wordStart = found === 0 || " /-_".includes(t[found - 1]);
      total += 1 + run * 2 + (wordStart ? 3 : 0);
      at = found;
    }
    return total - t.length * 0.01;
  };

  // The items that match, best first (equal scores keep their order); a blank query
  // keeps them all, in order.
  const rank = (query, items, textOf) => {
    const q = query.trim();
    if (!q) return [...items];
    return items
      .map((item) => ({ item, s: score(q, textOf(item)) }))
      .filter((m) => m.s >= 0)
      .sort((a, b) => b.s - a.s)
      .map((m) => m.item);
  };

  return { score, rank };
})();
