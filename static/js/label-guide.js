// The labeling screen's guide (G): one category's guideline and its pinned examples.
// `subject()` says which category (the tree's choice: the focused one, the parent the
// labeler opened, or the suggestion); the guide follows it whenever `refresh()` is called.
"use strict";

window.CuratorGuide = {
  create({ root, api, make, subject }) {
    const panel = root.querySelector("[data-guide]");
    const toggleButton = root.querySelector("[data-toggle-guide]");
    const title = root.querySelector("[data-guide-title]");
    const description = root.querySelector("[data-guide-description]");
    const note = root.querySelector("[data-examples-note]");
    const lists = root.querySelectorAll("[data-examples]");
    const examples = new Map(); // category id -> Promise of {positive, negative} or null
    let isOpen = false;

    const fetchExamples = (id) => {
      if (!examples.has(id)) {
        examples.set(
          id,
          api("GET", `/api/v1/categories/${id}/examples`)
            .then((r) => r.data)
            .catch(() => null),
        );
      }
      return examples.get(id);
    };

    const refresh = async () => {
      if (!isOpen) return;
      const category = subject();
      for (const list of lists) list.replaceChildren();
      if (!category) {
        title.textContent = "";
        description.replaceChildren(
          make("p", "Open a category (its key or Tab), or wait for a suggestion, to see its guideline.", { class: "muted" }),
        );
        note.textContent = "";
        return;
      }
      title.textContent = `: ${category.path}`;
      const template = root.querySelector(`template[data-description="${category.id}"]`);
      const body = template ? template.content.cloneNode(true) : null;
      if (body && body.textContent.trim()) description.replaceChildren(body);
      else description.replaceChildren(make("p", "No guideline written yet.", { class: "muted" }));
      note.textContent = "";
      const found = await fetchExamples(category.id);
      if (!isOpen || subject() !== category) return; // the screen moved on meanwhile
      for (const list of lists) list.replaceChildren(); // a refresh meanwhile may have filled them
      let count = 0;
      for (const list of lists) {
        const kind = list.dataset.examples;
        for (const image of ((found && found[kind]) || []).slice(0, kind === "positive" ? 6 : 3)) {
          const id = Number(image.id ?? image.image_id);
          const li = make("li");
          li.append(
            make("img", null, {
              src: image.thumbnail_url || `/api/v1/images/${id}/thumbnail`,
              alt: image.filename || `image ${id}`,
              loading: "lazy",
            }),
          );
          list.append(li);
          count += 1;
        }
      }
      note.textContent = count ? "" : "No example images pinned for this category yet.";
    };

    const toggle = () => {
      isOpen = !isOpen;
      panel.hidden = !isOpen;
      toggleButton.setAttribute("aria-expanded", String(isOpen));
      root.classList.toggle("with-guide", isOpen);
      refresh();
    };
    toggleButton.addEventListener("click", toggle);

    return { toggle, refresh };
  },
};
