// The label-issues and odd-pictures queues (a manager's): what the scoring run says about
// the image on screen, the suggestion Enter takes, and what the review keys record.
// A keeps: in "label_issues" the given label, as a review of the same category (so the
// queue does not ask again); in "odd_pictures" the picture, as a keep that is not an
// annotation (it may have no label). Delete rejects an odd picture as out of scope.
// Anything from the server is only ever set as textContent.
"use strict";

window.CuratorReview = {
  create({ root, settings, make, nameOf }) {
    const panel = root.querySelector("[data-review]");
    const mode = settings.mode;
    const modelSuggestion = (item) => (item && item.data.suggestion) || null;
    if (!panel) {
      return { show: () => {}, suggestion: modelSuggestion, keep: () => null, outOfScope: () => null };
    }
    const score = panel.querySelector("[data-review-score]");

    const guideline = (id) => {
      const template = root.querySelector(`template[data-description="${id}"]`);
      const body = template ? template.content.cloneNode(true) : null;
      return body && body.textContent.trim() ? body : make("p", "No guideline written yet.", { class: "muted" });
    };
    const category = (which, id) => {
      const name = panel.querySelector(`[data-review-${which}]`);
      const guide = panel.querySelector(`[data-review-${which}-guide]`);
      if (!name || !guide) return;
      name.textContent = id == null ? "" : nameOf(id);
      guide.replaceChildren(...(id == null ? [] : [guideline(id)]));
    };

    const show = (item) => {
      const info = item ? item.data.review : null;
      if (!info) {
        score.textContent = item ? "The newest run did not score this image." : "";
      } else {
        const verdict = mode === "label_issues" ? "likely mislabeled" : "atypical";
        const flag = info.flagged ? ` · flagged ${verdict}` : "";
        const now = info.current_category_id == null ? "unlabeled" : `labeled ${nameOf(info.current_category_id)}`;
        const state = mode === "odd_pictures" ? ` · ${now}` : "";
        score.textContent = `Score ${Number(info.score).toFixed(2)}${flag} (run #${info.run_id})${state}`;
      }
      if (mode === "label_issues") {
        category("given", info ? info.given_category_id : null);
        category("suggested", info ? info.suggested_category_id : null);
      }
    };

    // What Enter takes: the label issue's suggested class (the server sends it as the
    // suggestion, with the run's probability when that is still stored).
    const suggestion = (item) => {
      const info = item ? item.data.review : null;
      if (modelSuggestion(item) || mode !== "label_issues" || !info) return modelSuggestion(item);
      return info.suggested_category_id == null ? null : { category_id: info.suggested_category_id, confidence: null };
    };

    // The decision A records for the item, or null (then A does nothing).
    const keep = (item) => {
      if (!item) return null;
      if (mode === "odd_pictures") return { kept: true };
      // The label the image has now: the given one may be its family (a level's run).
      const info = item.data.review;
      return info && info.current_category_id != null ? { category_id: info.current_category_id } : null;
    };

    const outOfScope = (item) =>
      item && mode === "odd_pictures" ? { rejected: true, reason: settings.out_of_scope } : null;

    return { show, suggestion, keep, outOfScope };
  },
};
