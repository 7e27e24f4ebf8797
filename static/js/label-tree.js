// The category tree of the labeling screen: which level's choices are on screen, the
// model's suggestion, and the one category that Enter records.
//
// Enter records a parent only when the labeler opened it themselves (its key, its button,
// the search's Tab, the crumb, Esc); otherwise it records the suggestion, exactly. The
// suggestion opens its own parent's level just so that its button is on screen, and that
// level is never a choice: Enter used to label it, so a leaf suggested two levels down
// (windflower, under Ranunculaceae) was recorded at family level. The crumb names what
// Enter will record before the key is pressed.
"use strict";

window.CuratorTree = {
  create({ root, crumb, categories, make, onMove }) {
    const byId = new Map(categories.map((c) => [c.id, c]));
    const buttons = new Map();
    for (const button of root.querySelectorAll("[data-category]")) {
      buttons.set(Number(button.dataset.category), button);
    }
    const firstChild = (id) => {
      const child = categories.find((c) => (c.parent_id ?? null) === id);
      return child ? buttons.get(child.id) : null;
    };

    let level = null; // null: the top level; else the id of the parent whose children show
    let opened = false; // the labeler opened `level` (else the suggestion did, or nobody)
    let suggestion = null; // {category_id, confidence} of the image on screen, or null

    const suggested = () => (suggestion ? byId.get(Number(suggestion.category_id)) : null);
    // What Enter records now: a category, or null (then Enter does nothing).
    const enterTarget = () => (level !== null && opened ? byId.get(level) : suggested());

    // A choice button with the focus, if it is on screen.
    const focusedChoice = () => {
      const focused = document.activeElement && document.activeElement.closest("[data-category]");
      if (!focused || !root.contains(focused) || focused.closest("li").hidden) return null;
      return byId.get(Number(focused.dataset.category)) || null;
    };
    // Whose guideline the guide shows: the focused choice, the parent the labeler opened,
    // or the suggestion; never a level that only the suggestion opened.
    const guided = () => focusedChoice() || (level !== null && opened ? byId.get(level) : suggested());

    const hint = () => {
      const target = enterTarget();
      const parts = [];
      if (target && target.id === level) parts.push(`Enter labels ${target.name} itself`);
      else if (target) parts.push(`Enter labels ${target.name} (suggested)`);
      if (level !== null) parts.push("Esc goes up");
      return parts.join(", ");
    };

    const renderCrumb = () => {
      const parts = [];
      if (level === null) {
        parts.push(make("span", "All categories"));
      } else {
        const top = make("button", "All categories", { type: "button", class: "link" });
        top.addEventListener("click", () => open(null, true));
        parts.push(top);
        const chain = [];
        for (let c = byId.get(level); c; c = c.parent_id != null ? byId.get(c.parent_id) : null) chain.unshift(c);
        chain.forEach((c, index) => {
          parts.push(make("span", " / ", { "aria-hidden": "true" }));
          if (index === chain.length - 1) {
            parts.push(make("strong", c.name, { "aria-current": "location" }));
          } else {
            const up = make("button", c.name, { type: "button", class: "link" });
            up.addEventListener("click", () => open(c.id, true));
            parts.push(up);
          }
        });
      }
      const text = hint();
      if (text) parts.push(make("span", ` · ${text}`, { class: "muted" }));
      crumb.replaceChildren(...parts);
    };

    // The suggested button tells a screen reader that Enter takes it only while it does.
    const labelSuggested = () => {
      const category = suggested();
      const note = category && root.querySelector(`[data-category="${category.id}"] [data-enter-note]`);
      if (note) note.textContent = enterTarget() === category ? " suggested, Enter accepts" : " suggested";
    };

    // `byUser`: the labeler opened it, so Enter labels it. `focus`: a choice button to move
    // the focus to (a keyboard user who opened a parent from its button lands on its children).
    const open = (id, byUser, focus) => {
      level = id;
      opened = Boolean(byUser) && id !== null;
      const shownParent = id === null ? "" : String(id);
      for (const button of buttons.values()) {
        const li = button.closest("li");
        li.hidden = li.dataset.parent !== shownParent;
      }
      if (focus) focus.focus();
      renderCrumb();
      labelSuggested();
      onMove();
    };

    // A new image: its suggestion marked with the confidence, as a number and a bar, and
    // its level on screen. A level the labeler opened for the previous image does not carry over.
    const suggest = (value) => {
      for (const button of buttons.values()) {
        button.classList.remove("suggested");
        const conf = button.querySelector("[data-confidence]");
        if (conf) conf.hidden = true;
      }
      suggestion = value && byId.has(Number(value.category_id)) ? value : null;
      const category = suggested();
      const button = category ? buttons.get(category.id) : null;
      if (button) {
        button.classList.add("suggested");
        const conf = button.querySelector("[data-confidence]");
        const note = make("span", null, { class: "visually-hidden", "data-enter-note": "" });
        if (suggestion.confidence == null) {
          conf.replaceChildren(note); // a suggestion without a stored probability
        } else {
          const percent = Math.round(Math.max(0, Math.min(1, Number(suggestion.confidence) || 0)) * 100);
          const bar = make("span", null, { class: "bar", "aria-hidden": "true" });
          const fillBar = make("span");
          fillBar.style.width = `${percent}%`;
          bar.append(fillBar);
          conf.replaceChildren(make("span", `${percent}%`), bar, note);
        }
        conf.hidden = false;
      }
      open(category ? (category.parent_id ?? null) : null, false);
    };

    // A parent's key or button opens it, unless the labeler has it open already: then it
    // is the choice (false: the caller labels it). A level the suggestion opened is not
    // "open already", so its key opens it for the labeler rather than labeling it.
    const drillsInto = (category, fromButton) => {
      if (!category.has_children || (level === category.id && opened)) return false;
      open(category.id, true, fromButton ? firstChild(category.id) : null);
      return true;
    };

    // Esc: one level up; a focused choice hands the focus to the parent just left.
    const up = () => {
      if (level === null) return false;
      const left = level;
      open(byId.get(left).parent_id ?? null, true, focusedChoice() ? buttons.get(left) : null);
      return true;
    };

    return { byId, buttons, open, suggest, drillsInto, up, enterTarget, guided };
  },
};
