// The labeling screen's category search (/): a fuzzy match over full paths (fuzzy.js).
// Enter labels the image with the selected match (`pick`), never with the suggestion; Tab
// drills into the match (`drill`), so that its sub-categories come on screen with their keys.
"use strict";

window.CuratorSearch = {
  create({ dialog, categories, make, canPick, pick, drill }) {
    const input = dialog.querySelector("input");
    const results = dialog.querySelector("[role=listbox]");
    const help = dialog.querySelector("#search-help");
    const helpText = help.textContent;
    let matches = [];
    let active = 0;

    const choose = (category) => {
      dialog.close();
      pick(category);
    };

    const render = () => {
      matches = window.CuratorFuzzy.rank(input.value, categories, (c) => c.path);
      active = Math.min(active, Math.max(0, matches.length - 1));
      const items = matches.slice(0, 50).map((c, index) => {
        const li = make("li", null, {
          role: "option",
          id: `match-${c.id}`,
          "aria-selected": index === active ? "true" : "false",
        });
        li.append(make("span", c.path));
        if (c.has_children) li.append(make("span", " ›", { "aria-hidden": "true" }));
        if (c.shortcut) li.append(" ", make("kbd", c.shortcut));
        li.addEventListener("click", () => choose(c));
        return li;
      });
      if (items.length === 0) items.push(make("li", "No category matches.", { class: "muted" }));
      results.replaceChildren(...items);
      if (matches.length) input.setAttribute("aria-activedescendant", `match-${matches[active].id}`);
      else input.removeAttribute("aria-activedescendant");
    };

    input.addEventListener("input", () => {
      active = 0;
      render();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        if (matches[active] && canPick()) choose(matches[active]);
      } else if (event.key === "Tab" && !event.shiftKey) {
        event.preventDefault();
        const category = matches[active];
        if (!category) return;
        if (!category.has_children) {
          help.textContent = `${category.path} has no sub-categories: Enter labels it.`;
          return;
        }
        dialog.close();
        drill(category);
      } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        active = Math.max(0, Math.min(matches.length - 1, active + step));
        render();
      }
    });

    const open = () => {
      help.textContent = helpText;
      input.value = "";
      active = 0;
      render();
      if (!dialog.open) dialog.showModal();
      input.focus();
    };

    return { open };
  },
};
