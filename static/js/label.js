// The labeling screen: one decision per key, never waiting on the server.
// The queue is fetched ahead (at least `prefetch` images, each decoded before it is
// shown); decisions go out in the background (label-writes.js). The choices, the
// suggestion and what Enter records are label-tree.js's; the keys are label-keys.js's.
// Anything that comes from users or the server (filenames, names, reasons, error
// details) is only ever set as textContent.
(() => {
  "use strict";

  const root = document.querySelector("[data-labeler]");
  const settingsNode = document.getElementById("label-settings");
  if (!root || !settingsNode) return;
  const settings = JSON.parse(settingsNode.textContent);
  const PREFETCH = Math.max(3, Number(settings.prefetch) || 3);
  const EXCLUDE_MAX = 50; // ids sent back to queue/next (its limit); older ones are decided

  const $ = (selector) => root.querySelector(selector);
  const stage = $("[data-image]");
  const filenameNode = $("[data-filename]");
  const stateNode = $("[data-state]");
  const disputeNode = $("[data-dispute]");
  const loading = $("[data-loading]");
  const toast = $("[data-toast]");
  const errorBox = $("[data-error]");
  const empty = $("[data-empty]");
  const reasons = $("[data-reasons]");
  const reasonForm = $("[data-reason-form]");
  const reasonText = reasons.querySelector("input");
  const help = $("[data-help]");
  const search = $("[data-search]");
  const queueLabel = $("[data-queue-label]");

  const kit = window.CuratorLabelKit;
  const { make } = window.Curator;
  const { api, describe } = kit;
  const { say, fail } = window.Curator.toaster(toast, errorBox, 2500);
  const feed = window.CuratorFeed.create({ settings, api, withRetry: kit.withRetry });
  const writes = window.CuratorWrites.create({ pid: Number(settings.project_id), kit, fail });

  // ---- categories: the tree on screen, and the guide that follows it -------------------
  const categories = settings.categories || [];
  const byKey = new Map();
  for (const c of categories) if (c.shortcut) byKey.set(String(c.shortcut).toLowerCase(), c);
  const guide = window.CuratorGuide.create({ root, api, make, subject: () => tree.guided() });
  const tree = window.CuratorTree.create({
    root,
    crumb: $("[data-crumb]"),
    categories,
    make,
    onMove: () => guide.refresh(),
  });
  const nameOf = (id) => (tree.byId.has(id) ? tree.byId.get(id).path : `category #${id}`);
  const review = window.CuratorReview.create({ root, settings, make, nameOf });

  // ---- the queue ----------------------------------------------------------------------
  const queue = []; // prefetched items, in order
  const seen = []; // items decided or skipped this session, oldest first
  const skipped = new Set();
  let current = null; // the live item (the queue's head once shown)
  let back = 0; // how many steps back in `seen` the screen is (0: the live item)
  let exhausted = false;
  let filling = false;
  let remaining = null;
  let done = 0;
  let started = 0;

  // The ids queue/next must not hand out again: those held here first, then the latest
  // seen and skipped (a decision still on its way would otherwise come back).
  const held = () => {
    const ids = new Set(queue.map((i) => i.id));
    if (current) ids.add(current.id);
    const recent = [...seen.map((i) => i.id), ...skipped].reverse();
    for (const id of recent) {
      if (ids.size >= EXCLUDE_MAX) break;
      ids.add(id);
    }
    return [...ids];
  };

  const fill = async () => {
    if (filling) return;
    filling = true;
    try {
      while (!exhausted && queue.length < PREFETCH) {
        let item;
        try {
          item = await feed.next(held());
        } catch (error) {
          fail(`Could not fetch the next image: ${describe(error)}`);
          break;
        }
        if (!item) {
          exhausted = true;
          remaining = 0;
          break;
        }
        const { data } = item;
        if (data.mode && data.strategy) {
          // The server's words for what ranks the queue, as every page has them; only
          // "active" follows a ranking, so the other orders name none.
          const ranked = data.strategy === "active" && data.ranking_text ? ` · ranked by ${data.ranking_text}` : "";
          queueLabel.textContent = `${data.mode} · ${data.strategy}${ranked}`;
        }
        if (typeof data.remaining === "number") remaining = data.remaining;
        queue.push(item);
        if (!current) advance();
      }
    } finally {
      filling = false;
    }
    if (!current) advance();
    counter();
  };

  // Show the queue's head as the live item (or the empty state).
  const advance = () => {
    back = 0;
    current = queue.shift() || null;
    render();
    // The refill's first fetch starts once this image is painted, not inside the key's
    // handler (see kit.afterPaint); fill's later fetches follow their answers anyway.
    if (queue.length < PREFETCH) kit.afterPaint().then(fill);
  };

  const shown = () => (back > 0 ? seen[seen.length - back] : current);

  // ---- the screen ---------------------------------------------------------------------
  const counter = () => {
    $("[data-done]").textContent = String(done);
    $("[data-left]").textContent = remaining === null ? "…" : String(remaining);
    const hours = started ? (Date.now() - started) / 3600000 : 0;
    $("[data-rate]").textContent = hours > 0 ? String(Math.round(done / Math.max(hours, 1 / 60))) : "0";
  };

  const decisionText = (decision) => {
    if (!decision) return "";
    if (decision.skipped) return "skipped";
    if (decision.kept) return "kept";
    if (decision.rejected) return decision.reason ? `rejected: ${decision.reason}` : "rejected";
    return `labeled ${nameOf(decision.category_id)}`;
  };

  let onScreen = null; // the item render() last showed
  const render = () => {
    const item = shown();
    const waiting = !item && !exhausted;
    loading.hidden = !waiting;
    empty.hidden = Boolean(item) || !exhausted;
    root.classList.toggle("is-empty", !item && exhausted);
    // A new image brings its own suggestion and starts from its level: a parent opened
    // for the previous image must not be what Enter records for this one.
    const fresh = item !== onScreen;
    onScreen = item;
    if (!item) {
      stage.replaceChildren();
      filenameNode.textContent = "";
      stateNode.textContent = "";
      dispute(null);
      review.show(null);
      if (fresh) tree.suggest(null);
      return;
    }
    stage.classList.remove("zoomed");
    stage.replaceChildren(item.img);
    filenameNode.textContent = item.data.filename;
    dispute(item.data.disagreement || null);
    review.show(item);
    stateNode.textContent =
      back > 0 ? `· ${back} back · ${decisionText(item.decision) || "no decision"}` : "";
    if (fresh) tree.suggest(review.suggestion(item));
  };

  // In the disagreements queue: what each labeler said (the image carries the first).
  const saidBy = (a) =>
    `${a.username || "someone"}: ${a.rejected ? (a.reason ? `rejected (${a.reason})` : "rejected") : nameOf(a.category_id)}`;
  const dispute = (value) => {
    disputeNode.hidden = !value;
    disputeNode.textContent = value ? `Disputed · ${saidBy(value.first)} · ${saidBy(value.second)}` : "";
  };

  // A parent's key or button opens it (drills into its children); a leaf's labels, as
  // does a parent's once the labeler has it open.
  const choose = (category, fromButton) => {
    if (!tree.drillsInto(category, fromButton)) decide({ category_id: category.id });
  };

  // ---- decisions ----------------------------------------------------------------------
  const decide = (body) => {
    const item = shown();
    if (!item) return;
    const wasLive = back === 0;
    item.decision = { ...body };
    writes.annotate(item, body);
    say(`${decisionText(item.decision)} · U to undo`);
    if (!started) started = Date.now();
    if (wasLive) {
      done += 1;
      if (remaining) remaining -= 1;
      seen.push(item);
      advance();
    } else {
      back -= 1;
      render();
    }
    counter();
  };

  // The review queues' keys: false when they do not apply (the browser keeps the key).
  const reviewed = (body) => {
    if (body) decide(body);
    return Boolean(body);
  };

  const skip = () => {
    const item = shown();
    if (!item) return;
    if (back > 0) {
      back -= 1;
      render();
      return;
    }
    item.decision = { skipped: true };
    skipped.add(item.id);
    seen.push(item);
    writes.release(item);
    say("skipped · the image goes back to the pool");
    advance();
  };

  const undo = () => {
    // Shown at once: the latest decision of this session comes back on screen; the
    // server's answer (which image it undid) follows, and wins if it differs.
    let index = -1;
    for (let i = seen.length - 1; i >= 0; i -= 1) {
      const d = seen[i].decision;
      if (d && !d.skipped) {
        index = i;
        break;
      }
    }
    const local = index >= 0 ? seen.splice(index, 1)[0] : null;
    const kept = Boolean(local && local.decision.kept);
    if (local) {
      local.decision = null;
      if (current) queue.unshift(current);
      current = local;
      back = 0;
      done = Math.max(0, done - 1);
      if (remaining !== null) remaining += 1;
      render();
      counter();
      say(`undoing: ${local.data.filename}`);
    }
    if (kept) {
      writes.takeBack(local); // a keep is not an annotation: the server's undo would skip it
      return;
    }
    writes.undo(async (undone) => {
      if (undone && (!local || local.id !== undone)) await showImage(undone);
      say(`undone · ${current ? current.data.filename : ""}`);
    });
  };

  // An image the server undid that this screen did not have at hand.
  const showImage = async (id) => {
    const known = [...seen, ...queue].find((i) => i.id === id);
    let item = known;
    if (!item) {
      const { data } = await api("GET", `/api/v1/images/${id}`);
      item = feed.prepare({ ...data, image_id: data.id });
      await item.ready;
    } else {
      seen.splice(seen.indexOf(item), 1);
      const queued = queue.indexOf(item);
      if (queued >= 0) queue.splice(queued, 1);
    }
    if (current && current !== item) queue.unshift(current);
    current = item;
    back = 0;
    render();
  };

  const move = (delta) => {
    // delta -1: previous (further back in seen), +1: next (towards the live item).
    back = Math.max(0, Math.min(seen.length, back - delta));
    render();
  };

  // ---- overlays and input ------------------------------------------------------------
  const openDialog = (dialog) => {
    if (!dialog.open) dialog.showModal();
  };

  // The reason picker.
  const openReasons = () => {
    if (!shown()) return;
    reasonForm.hidden = true;
    reasonText.value = "";
    openDialog(reasons);
    reasons.querySelector("[data-reject-plain]").focus();
  };
  const reject = (reason) => {
    reasons.close();
    decide(reason ? { rejected: true, reason } : { rejected: true });
  };
  window.CuratorReasons.bind(reasons, reasonForm, reasonText, reject);

  // The category search: Enter labels the match; Tab opens it, as its key would.
  const finder = window.CuratorSearch.create({
    dialog: search,
    categories,
    make,
    canPick: () => Boolean(shown()),
    pick: (category) => decide({ category_id: category.id }),
    drill: (category) => {
      tree.open(category.id, true);
      say(`${category.path}: its sub-categories · Enter labels ${category.name} itself`);
    },
  });

  for (const [id, button] of tree.buttons) {
    button.addEventListener("click", () => choose(tree.byId.get(id), true));
    // The guide follows the focused choice, and falls back when the focus leaves it.
    button.addEventListener("focus", () => guide.refresh());
    button.addEventListener("blur", () => guide.refresh());
  }
  $("[data-open-search]").addEventListener("click", finder.open);
  $("[data-open-help]").addEventListener("click", () => openDialog(help));
  window.CuratorLabelKeys.bind({
    stage,
    dialogs: [reasons, help, search],
    byKey,
    actions: {
      help: () => openDialog(help),
      search: finder.open,
      guide: guide.toggle,
      reject: openReasons,
      skip,
      undo,
      move,
      up: tree.up,
      // Exactly what the crumb names: the parent the labeler opened, else the suggestion.
      enter: () => {
        const target = tree.enterTarget();
        if (target) decide({ category_id: target.id });
        return Boolean(target);
      },
      choose: (category) => choose(category),
      firstChoice: () => [...tree.buttons.values()].find((b) => !b.closest("li").hidden),
      keep: () => reviewed(review.keep(shown())),
      outOfScope: () => reviewed(review.outOfScope(shown())),
    },
  });

  tree.open(null);
  counter();
  fill();
  setInterval(counter, 30000);
})();
