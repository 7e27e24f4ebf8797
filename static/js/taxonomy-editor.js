// The taxonomy page's tree editor: add, rename, move and delete categories in place through
// the categories API, keyboard first, without a page load. The forms below the editor do the
// same work without JavaScript; after each change they are fetched again so they agree.
(() => {
  "use strict";

  const editor = document.getElementById("tree-editor");
  if (!editor) return;
  const T = window.CuratorTaxonomyTree;
  const pid = Number(editor.dataset.project);
  const root = editor.querySelector('[role="tree"]');
  const news = editor.querySelector(".tree-editor-news");
  const rootDrop = editor.querySelector('[data-drop="root"]');
  const collapsed = new Set();
  let tree = T.model([]);
  let cut = null; // the id X marked, waiting for V
  let busy = false; // one write at a time: keys pressed meanwhile are ignored, not queued

  const say = (message) => {
    news.textContent = message;
  };
  const pathOf = (id) => {
    const names = [];
    for (let c = tree.byId.get(id); c; c = tree.byId.get(c.parent_id)) names.unshift(c.name);
    return names.join("/");
  };
  const where = (parentId) => (parentId === null ? "at the top level" : `under ${pathOf(parentId)}`);

  const { call, refreshPage } = window.CuratorTaxonomyIo;

  const focusId = (id) => {
    const li = T.find(root, id) || T.visible(root)[0];
    if (li) T.focusItem(root, li);
    else root.focus();
  };
  const current = () => root.querySelector('[role="treeitem"][tabindex="0"]') || T.visible(root)[0] || null;

  const reload = async (focus) => {
    const answer = await call("GET", `/api/v1/projects/${pid}/categories`);
    if (!answer.ok) {
      say(`Could not load the categories: ${answer.detail}`);
      return;
    }
    tree = T.model(answer.data);
    T.draw(root, tree, collapsed);
    root.tabIndex = tree.byId.size ? -1 : 0; // an empty tree still takes focus, for C and N
    rootDrop.hidden = tree.byId.size === 0;
    if (cut !== null && !tree.byId.has(cut)) cut = null;
    if (cut !== null) T.find(root, cut).classList.add("te-cut");
    if (focus !== undefined && focus !== null) focusId(focus);
    else {
      const first = T.visible(root)[0];
      if (first) first.tabIndex = 0;
    }
  };

  // Runs one write; on success draws the tree again and refreshes the page's other parts.
  const write = async (method, url, body, done, fail) => {
    if (busy) return;
    busy = true;
    try {
      const answer = await call(method, url, body);
      if (!answer.ok) {
        fail(answer.detail);
        return;
      }
      await reload(done.focus(answer.data));
      say(done.message(answer.data));
      refreshPage();
    } finally {
      busy = false;
    }
  };

  const stopEditing = () => {
    for (const node of root.querySelectorAll(".te-new, .te-confirm")) node.remove();
    for (const input of root.querySelectorAll(".te-row > .te-input")) {
      const li = T.itemOf(input);
      input.replaceWith(Object.assign(document.createElement("span"), { className: "te-name", textContent: li.getAttribute("aria-label") }));
    }
    T.clearErrors(editor);
  };

  const add = (parentId, afterLi) => {
    stopEditing();
    const parentLi = parentId === null ? null : T.find(root, parentId);
    const label = `Name of the new category ${where(parentId)}`;
    const back = current();
    const { li, wrap, input } = T.newRow(root, parentLi, afterLi, label, (event) => {
      if (event.key === "Escape") {
        li.remove();
        T.clearErrors(editor);
        say("Adding cancelled.");
        if (back) T.focusItem(root, back);
        else root.focus();
        return;
      }
      T.clearErrors(editor);
      write(
        "POST",
        `/api/v1/projects/${pid}/categories`,
        { name: input.value, parent_id: parentId },
        { focus: (c) => c.id, message: (c) => `Added ${c.path}.` },
        (detail) => T.showError(wrap, detail, input),
      );
    });
    if (parentId !== null) collapsed.delete(parentId);
    return li;
  };

  const rename = (li) => {
    stopEditing();
    const id = T.idOf(li);
    const old = tree.byId.get(id).name;
    const span = T.rowOf(li).querySelector(".te-name");
    const input = T.nameField(`New name for ${pathOf(id)}`, old, (event) => {
      if (event.key === "Escape" || input.value === old) {
        stopEditing();
        say(event.key === "Escape" ? "Renaming cancelled." : `${old} is unchanged.`);
        T.focusItem(root, T.find(root, id));
        return;
      }
      T.clearErrors(editor);
      write(
        "PATCH",
        `/api/v1/categories/${id}`,
        { name: input.value },
        { focus: () => id, message: (c) => `Renamed ${old} to ${c.name}.` },
        (detail) => T.showError(T.rowOf(li), detail, input),
      );
    });
    span.replaceWith(input);
    input.select();
    input.focus();
  };

  const remove = (li) => {
    stopEditing();
    const id = T.idOf(li);
    const path = pathOf(id);
    // Where focus lands after: the next sibling, else the one before, else the parent.
    const next = li.nextElementSibling || li.previousElementSibling || T.parentItem(li);
    const nextId = next ? T.idOf(next) : null;
    T.confirmRow(
      li,
      path,
      () =>
        write(
          "DELETE",
          `/api/v1/categories/${id}`,
          undefined,
          // No id is 0: with no neighbour left, focus goes to the first item or the tree.
          { focus: () => nextId ?? 0, message: () => `Deleted ${path}.` },
          (detail) => {
            stopEditing();
            // The API's answer names its parameters; here the choice is made in the list's form.
            T.showError(T.rowOf(li), detail.replace(/ Choose where they go:.*$/, " Choose where they go in its Edit form, in the list below."));
            T.focusItem(root, li);
          },
        ),
      () => {
        stopEditing();
        say(`Kept ${path}.`);
        T.focusItem(root, li);
      },
    );
  };

  // Moves `id` under `parentId` (null: the top level), at `position` among its new siblings
  // or last; an error is shown at `errorAt`, the item the user acted on.
  const move = (id, parentId, position, errorAt) => {
    stopEditing();
    const name = pathOf(id);
    const reordered = parentId === tree.byId.get(id).parent_id;
    const body = position === undefined ? { parent_id: parentId } : { parent_id: parentId, position };
    if (parentId !== null) collapsed.delete(parentId);
    write(
      "PATCH",
      `/api/v1/categories/${id}`,
      body,
      {
        focus: () => id,
        message: (c) => (reordered ? `Moved ${name} to place ${position + 1} ${where(parentId)}.` : `Moved ${name} to ${c.path}.`),
      },
      (detail) => {
        const at = errorAt || T.find(root, id);
        if (at) {
          T.showError(T.rowOf(at), detail);
          T.focusItem(root, at);
        } else say(detail);
      },
    );
  };

  const markCut = (li) => {
    for (const other of root.querySelectorAll(".te-cut")) other.classList.remove("te-cut");
    cut = T.idOf(li);
    li.classList.add("te-cut");
    say(`Cut ${pathOf(cut)}: go to its new parent and press V, or Shift+V to put it beside a category.`);
  };

  const paste = (li, beside) => {
    if (cut === null) {
      say("Nothing is cut: press X on a category first.");
      return;
    }
    const moving = cut;
    const target = tree.byId.get(T.idOf(li));
    cut = null;
    if (beside) {
      const siblings = tree.kids(target.parent_id).filter((c) => c.id !== moving);
      move(moving, target.parent_id, siblings.indexOf(target) + 1, li);
    } else move(moving, target.id, undefined, li);
  };

  const reorder = (li, step) => {
    const c = tree.byId.get(T.idOf(li));
    const index = tree.kids(c.parent_id).indexOf(c) + step;
    if (index < 0 || index >= tree.kids(c.parent_id).length) return;
    move(c.id, c.parent_id, index, li);
  };

  const toggle = (li, open) => {
    const id = T.idOf(li);
    if (open) collapsed.delete(id);
    else collapsed.add(id);
    li.setAttribute("aria-expanded", open ? "true" : "false");
    T.groupOf(li).hidden = !open;
    T.rowOf(li).querySelector(".te-twisty").textContent = open ? "▾" : "▸";
  };

  const onKey = (event) => {
    if (event.ctrlKey || event.metaKey) {
      if (!["x", "v"].includes(event.key.toLowerCase())) return;
    }
    const li = T.itemOf(event.target);
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    if (!li) {
      if (event.target === root && (key === "c" || key === "n")) {
        event.preventDefault();
        add(null, null);
      }
      return;
    }
    const items = T.visible(root);
    const at = items.indexOf(li);
    const open = li.getAttribute("aria-expanded");
    const actions = {
      ArrowDown: () => (event.altKey ? reorder(li, 1) : T.focusItem(root, items[at + 1])),
      ArrowUp: () => (event.altKey ? reorder(li, -1) : T.focusItem(root, items[at - 1])),
      Home: () => T.focusItem(root, items[0]),
      End: () => T.focusItem(root, items[items.length - 1]),
      ArrowRight: () => (open === "false" ? toggle(li, true) : open === "true" && T.focusItem(root, T.groupOf(li).firstElementChild)),
      ArrowLeft: () => (open === "true" ? toggle(li, false) : T.focusItem(root, T.parentItem(li))),
      Enter: () => rename(li),
      F2: () => rename(li),
      c: () => add(T.idOf(li), null),
      n: () => add(tree.byId.get(T.idOf(li)).parent_id, li),
      Delete: () => remove(li),
      Backspace: () => remove(li),
      x: () => markCut(li),
      v: () => paste(li, event.shiftKey),
      Escape: () => {
        T.clearErrors(editor);
        if (cut !== null) say("Cut cancelled.");
        cut = null;
        for (const other of root.querySelectorAll(".te-cut")) other.classList.remove("te-cut");
      },
    };
    if (!Object.hasOwn(actions, key) || (event.altKey && !key.startsWith("Arrow"))) return;
    event.preventDefault();
    if (busy) return;
    actions[key]();
  };

  root.addEventListener("keydown", onKey);
  root.addEventListener("click", (event) => {
    const li = T.itemOf(event.target);
    if (!li || event.target.closest("input, button")) return;
    if (event.target.classList.contains("te-twisty")) toggle(li, li.getAttribute("aria-expanded") === "false");
    T.focusItem(root, li);
  });
  root.addEventListener("dblclick", (event) => {
    const li = T.itemOf(event.target);
    if (li && !event.target.closest("input, button")) rename(li);
  });
  editor.querySelector('[data-act="add-root"]').addEventListener("click", () => add(null, null));

  window.CuratorTaxonomyDrag(editor, root, rootDrop, { pathOf, move });

  editor.hidden = false;
  reload(null);
})();
