// The tree editor's drawing: categories (the API's flat list) as an ARIA tree, and the
// small widgets it opens in place (a name field, a delete confirmation, an error line).
// Every text is set as textContent; nothing here talks to the server.
window.CuratorTaxonomyTree = (() => {
  "use strict";

  const make = (...args) => window.Curator.make(...args);
  let errors = 0;

  // The flat list (parents first, siblings in order) as lookups by id and by parent.
  const model = (list) => {
    const byId = new Map();
    const children = new Map();
    for (const c of list) {
      byId.set(c.id, c);
      const key = c.parent_id === null ? 0 : c.parent_id;
      if (!children.has(key)) children.set(key, []);
      children.get(key).push(c);
    }
    return { byId, children, kids: (id) => children.get(id === null ? 0 : id) || [] };
  };

  const item = (c, level, index, count, collapsed, hasKids) => {
    const li = make("li", null, {
      role: "treeitem",
      "aria-level": String(level),
      "aria-setsize": String(count),
      "aria-posinset": String(index + 1),
      // The name alone: a tree item's name would otherwise take in all of its sub-tree.
      "aria-label": c.name,
      tabindex: "-1",
      draggable: "true",
      "data-id": String(c.id),
    });
    const row = make("div", null, { class: "te-row" });
    row.append(make("span", hasKids ? (collapsed ? "▸" : "▾") : "", { class: "te-twisty", "aria-hidden": "true" }));
    row.append(make("span", c.name, { class: "te-name" }));
    if (c.shortcut) row.append(make("kbd", c.shortcut, { class: "te-key", "aria-hidden": "true" }));
    li.append(row);
    if (hasKids) li.setAttribute("aria-expanded", collapsed ? "false" : "true");
    return li;
  };

  // Draws the whole tree into `root` (a role=tree list); `collapsed` is a Set of ids.
  const draw = (root, tree, collapsed) => {
    const fill = (list, parentId, level) => {
      const kids = tree.kids(parentId);
      kids.forEach((c, i) => {
        const hasKids = tree.kids(c.id).length > 0;
        const li = item(c, level, i, kids.length, collapsed.has(c.id), hasKids);
        if (hasKids) {
          const group = make("ul", null, { role: "group" });
          group.hidden = collapsed.has(c.id);
          fill(group, c.id, level + 1);
          li.append(group);
        }
        list.append(li);
      });
    };
    root.replaceChildren();
    fill(root, null, 1);
  };

  const idOf = (li) => Number(li.dataset.id);
  const itemOf = (node) => (node instanceof Element ? node.closest('[role="treeitem"]') : null);
  const rowOf = (li) => li.querySelector(":scope > .te-row");
  const groupOf = (li) => li.querySelector(':scope > [role="group"]');
  const parentItem = (li) => itemOf(li.parentElement);
  const visible = (root) =>
    [...root.querySelectorAll('[role="treeitem"]')].filter((li) => li.checkVisibility());
  const find = (root, id) => root.querySelector(`[role="treeitem"][data-id="${Number(id)}"]`);

  // Roving focus: the one item Tab reaches is the one last focused.
  const focusItem = (root, li) => {
    if (!li) return;
    for (const other of root.querySelectorAll('[role="treeitem"][tabindex="0"]')) other.tabIndex = -1;
    li.tabIndex = 0;
    li.focus();
  };

  const clearErrors = (root) => {
    for (const p of root.querySelectorAll(".te-error")) {
      const field = root.querySelector(`[aria-describedby="${p.id}"]`);
      if (field) {
        field.removeAttribute("aria-describedby");
        field.removeAttribute("aria-invalid");
      }
      p.remove();
    }
  };

  // An error line under `anchor` (an item's row or a name field's wrapper), read out at once.
  const showError = (anchor, message, field) => {
    const p = make("p", message, { class: "te-error", role: "alert", id: `te-error-${(errors += 1)}` });
    anchor.after(p);
    if (field) {
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", p.id);
    }
    return p;
  };

  // A name field in place; `onKey(event, input)` gets Enter and Escape.
  const nameField = (label, value, onKey) => {
    const input = make("input", null, { type: "text", class: "te-input", "aria-label": label, autocomplete: "off" });
    input.value = value;
    input.addEventListener("keydown", (event) => {
      // The tree's own keys (arrows, C, N, Delete) must not act while a name is typed.
      event.stopPropagation();
      if (event.key === "Enter" || event.key === "Escape") {
        event.preventDefault();
        onKey(event, input);
      }
    });
    return input;
  };

  // An empty row for a new category: under `parentLi`'s group, or at the top of `root`.
  const newRow = (root, parentLi, afterLi, label, onKey) => {
    const li = make("li", null, { role: "none", class: "te-new" });
    const wrap = make("div", null, { class: "te-row" });
    const input = nameField(label, "", onKey);
    wrap.append(input);
    li.append(wrap);
    if (afterLi) afterLi.after(li);
    else if (parentLi) {
      let group = groupOf(parentLi);
      if (!group) {
        group = make("ul", null, { role: "group" });
        parentLi.append(group);
      }
      group.hidden = false;
      group.append(li);
    } else root.append(li);
    input.focus();
    return { li, wrap, input };
  };

  // "Delete NAME?" with two buttons, the confirming one focused; Escape cancels.
  const confirmRow = (li, name, onConfirm, onCancel) => {
    const box = make("div", null, { class: "te-confirm", role: "group", "aria-label": `Delete ${name}?` });
    box.append(make("span", `Delete ${name}?`));
    const yes = make("button", "Delete", { type: "button", class: "danger" });
    const no = make("button", "Cancel", { type: "button" });
    box.append(yes, no);
    box.addEventListener("keydown", (event) => {
      event.stopPropagation();
      if (event.key === "Escape") {
        event.preventDefault();
        onCancel();
      }
    });
    yes.addEventListener("click", onConfirm);
    no.addEventListener("click", onCancel);
    rowOf(li).after(box);
    yes.focus();
    return box;
  };

  return {
    model, draw, idOf, itemOf, rowOf, groupOf, parentItem, visible, find,
    focusItem, clearErrors, showError, nameField, newRow, confirmRow,
  };
})();
