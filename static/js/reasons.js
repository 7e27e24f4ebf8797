// The reject-reason picker shared by the labeling screen and the grid: each reason has a
// key, "other" opens a free-text field, and Enter anywhere but on a reason rejects with
// no reason. The page decides what rejecting means (`reject(reason or null)`).
window.CuratorReasons = {
  bind(reasons, reasonForm, reasonText, reject) {
    "use strict";
    for (const button of reasons.querySelectorAll("[data-reason]")) {
      button.addEventListener("click", () => reject(button.dataset.reason));
    }
    reasons.querySelector("[data-reason-other]").addEventListener("click", () => {
      reasonForm.hidden = false;
      reasonText.focus();
    });
    reasons.querySelector("[data-reject-plain]").addEventListener("click", () => reject(null));
    reasonForm.addEventListener("submit", (event) => {
      event.preventDefault();
      reject(reasonText.value.trim() || null);
    });
    reasons.addEventListener("keydown", (event) => {
      if (event.target === reasonText || event.ctrlKey || event.metaKey || event.altKey) return;
      const keyed = reasons.querySelector(`[data-key="${CSS.escape(event.key)}"]`);
      if (keyed) {
        event.preventDefault();
        keyed.click();
      } else if (event.key === "Enter") {
        // Enter on a focused reason picks it; anywhere else it rejects with no reason.
        if (event.target.matches("[data-reason], [data-reason-other], [data-close]")) return;
        event.preventDefault();
        reject(null);
      }
    });
  },
};
