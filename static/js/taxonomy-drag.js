// The tree editor's drag and drop: a category dropped on another goes inside it, dropped on
// the top-level strip goes to the top. X and V do the same from the keyboard.
window.CuratorTaxonomyDrag = (editor, root, rootDrop, actions) => {
  "use strict";

  const { pathOf, move } = actions;
  const T = window.CuratorTaxonomyTree;

  let dragged = null;
  const dropTarget = (event) => (event.target.closest('[data-drop="root"]') ? rootDrop : T.itemOf(event.target));
  root.addEventListener("dragstart", (event) => {
    const li = T.itemOf(event.target);
    if (!li || event.target.closest("input")) return;
    dragged = T.idOf(li);
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", pathOf(dragged));
    editor.classList.add("te-dragging");
  });
  const over = (event) => {
    const target = dropTarget(event);
    if (dragged === null || !target) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    for (const other of editor.querySelectorAll(".te-drop")) if (other !== target) other.classList.remove("te-drop");
    target.classList.add("te-drop");
  };
  const drop = (event) => {
    const target = dropTarget(event);
    if (dragged === null || !target) return;
    event.preventDefault();
    const id = dragged;
    dragged = null;
    if (target === rootDrop) move(id, null, undefined, null);
    else if (T.idOf(target) !== id) move(id, T.idOf(target), undefined, target);
  };
  for (const zone of [root, rootDrop]) {
    zone.addEventListener("dragover", over);
    zone.addEventListener("drop", drop);
  }
  editor.addEventListener("dragend", () => {
    dragged = null;
    editor.classList.remove("te-dragging");
    for (const other of editor.querySelectorAll(".te-drop")) other.classList.remove("te-drop");
  });
};
