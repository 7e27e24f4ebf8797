// The runs list's "Compare" button works only with exactly two runs ticked: until then it
// is disabled and says how many are ticked. Delegated, so the polled list's boxes count.
(() => {
  "use strict";

  const form = document.getElementById("compare-runs");
  if (!form) return;
  const button = form.querySelector("button[type=submit]");
  const status = form.querySelector("[data-compare-status]");
  const ticked = () =>
    [...document.querySelectorAll('input[form="compare-runs"][name="run"]')].filter((b) => b.checked).length;

  const update = () => {
    const n = ticked();
    button.disabled = n !== 2;
    if (status) {
      status.textContent =
        n === 2 ? "Two runs ticked." : n < 2 ? `Tick two runs in the table (${n} ticked).` : `Tick only two runs (${n} ticked).`;
    }
  };

  document.addEventListener("change", (event) => {
    if (event.target instanceof HTMLInputElement && event.target.getAttribute("form") === "compare-runs") update();
  });
  document.body.addEventListener("htmx:afterSettle", update);
  update();
})();
