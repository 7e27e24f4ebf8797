// The labeling screen's input: one action per key, the overlays' close buttons and
// backdrops, and zoom. What each action does is the page's (`actions`); this file only
// decides which key means which, and leaves keys alone while an overlay or a field has them.
"use strict";

window.CuratorLabelKeys = {
  bind({ stage, dialogs, byKey, actions }) {
    for (const dialog of dialogs) {
      for (const button of dialog.querySelectorAll("[data-close]")) {
        button.addEventListener("click", () => dialog.close());
      }
      // Clicking the backdrop closes it too.
      dialog.addEventListener("click", (event) => {
        if (event.target === dialog) dialog.close();
      });
    }
    const anyOpen = () => dialogs.some((d) => d.open);

    // "Skip to the choices" (the page's first link): a keyboard user is one Tab and
    // Enter from the first choice on screen, past the header and the toolbar.
    const skipLink = document.querySelector("[data-skip-choices]");
    if (skipLink) {
      skipLink.addEventListener("click", (event) => {
        const first = actions.firstChoice();
        if (!first) return; // no choices: the link goes to the section as any link would
        event.preventDefault();
        first.focus();
      });
    }

    // Zoom: hold the mouse button on the image, or + to toggle.
    stage.addEventListener("pointerdown", (event) => {
      const box = stage.getBoundingClientRect();
      stage.style.transformOrigin = `${event.clientX - box.left}px ${event.clientY - box.top}px`;
      stage.classList.add("zoomed");
    });
    for (const type of ["pointerup", "pointerleave", "pointercancel"]) {
      stage.addEventListener(type, () => stage.classList.remove("zoomed"));
    }
    const toggleZoom = () => {
      stage.style.transformOrigin = "50% 50%";
      stage.classList.toggle("zoomed");
    };

    // Each returns false when the key did nothing, so that the browser keeps it.
    const byName = {
      "?": actions.help,
      "/": actions.search,
      g: actions.guide,
      r: actions.reject,
      s: actions.skip,
      " ": actions.skip,
      u: actions.undo,
      Backspace: actions.undo,
      ArrowLeft: () => actions.move(-1),
      ArrowRight: () => actions.move(1),
      "+": toggleZoom,
      "=": toggleZoom,
      Escape: actions.up,
    };
    // The review queues' keys (label-review.js): "a" is never a category's shortcut, and
    // Delete is not a letter, so neither can shadow one.
    if (actions.keep) byName.a = actions.keep;
    if (actions.outOfScope) byName.Delete = actions.outOfScope;

    document.addEventListener("keydown", (event) => {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
      if (anyOpen() || window.Curator.isTyping(event.target)) return; // the overlays handle their own keys
      const key = event.key;
      const lower = key.length === 1 ? key.toLowerCase() : key;
      let handled;
      if (key === "Enter") {
        // Enter on a focused button or link does its own thing (a choice's click).
        const onControl = event.target instanceof HTMLElement && event.target.matches("button, a, summary");
        handled = !onControl && actions.enter();
      } else if (Object.hasOwn(byName, lower)) {
        handled = byName[lower]() !== false;
      } else if (byKey.has(lower)) {
        actions.choose(byKey.get(lower));
        handled = true;
      } else {
        handled = false;
      }
      if (handled) event.preventDefault();
    });
  },
};
