"""The category tree: create, rename, move, reorder. No HTTP here.

Deleting and merging, which must find a home for labels, live in ``labels``.

Trees are small (hundreds of nodes), so paths and cycles are worked out from one query
of the whole project's tree rather than with recursive SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput, NotFound
from app.names import find_lookalike, lookalike_hint, name_key
from app.projects.models import Project
from app.taxonomy.models import Category
from app.taxonomy.palette import pick_colour
from app.taxonomy.schemas import CategoryCreate, CategoryUpdate

# Digits first, then letters. Letters the labeling screen keeps for itself are left out:
# a (select all), g (guide), r (reject), s (skip), u (undo).
SHORTCUT_KEYS = "1234567890" + "".join(c for c in "bcdefhijklmnopqtvwxyz")
RESERVED_KEYS = frozenset("agrsu")
MAX_DEPTH = 20


@dataclass(frozen=True)
class Node:
    category: Category
    path: str
    depth: int


class Tree:
    """A project's categories, indexed for path, depth and descendant questions."""

    def __init__(self, categories: Iterable[Category]) -> None:
        self.by_id = {c.id: c for c in categories}
        self.children: dict[int | None, list[Category]] = {}
        for c in self.by_id.values():
            self.children.setdefault(c.parent_id, []).append(c)
        for siblings in self.children.values():
            siblings.sort(key=lambda c: (c.position, c.id))

    def path(self, category: Category) -> list[str]:
        names = []
        node: Category | None = category
        while node is not None:
            names.append(node.name)
            node = self.by_id.get(node.parent_id) if node.parent_id is not None else None
        return names[::-1]

    def height(self, category_id: int) -> int:
        """Levels from this node down to its deepest descendant, itself included."""
        return 1 + max((self.height(c.id) for c in self.children.get(category_id, [])), default=0)

    def descendants(self, category_id: int) -> set[int]:
        found: set[int] = set()
        stack = [category_id]
        while stack:
            for child in self.children.get(stack.pop(), []):
                found.add(child.id)
                stack.append(child.id)
        return found

    def depth_first(self) -> list[Node]:
        """Every node, parents before children, siblings in their order."""
        out: list[Node] = []

        def visit(parent: int | None, prefix: str, depth: int) -> None:
            for c in self.children.get(parent, []):
                path = f"{prefix}/{c.name}" if prefix else c.name
                out.append(Node(c, path, depth))
                visit(c.id, path, depth + 1)

        visit(None, "", 1)
        return out


def load_tree(session: Session, project: Project) -> Tree:
    return Tree(session.scalars(select(Category).where(Category.project_id == project.id)))


def get_category(session: Session, category_id: int) -> Category:
    category = session.get(Category, category_id)
    if category is None:
        raise NotFound(f"No category with id {category_id}.")
    return category


def node_of(tree: Tree, category: Category) -> Node:
    names = tree.path(category)
    return Node(category, "/".join(names), len(names))


def sibling_key(parent_id: int | None, name: str) -> str:
    return f"{parent_id or 0}/{name_key(name)}"


def check_writable(project: Project) -> None:
    if project.archived:
        raise Conflict("The project is archived; restore it to change its taxonomy.")


def _check_parent(tree: Tree, parent_id: int | None, subtree_height: int = 1) -> None:
    if parent_id is None:
        return
    if parent_id not in tree.by_id:
        raise InvalidInput(f"parent_id: {parent_id} is not a category of this project.")
    if len(tree.path(tree.by_id[parent_id])) + subtree_height > MAX_DEPTH:
        raise InvalidInput(f"parent_id: the tree would be deeper than {MAX_DEPTH} levels.")


def _check_name_free(tree: Tree, parent_id: int | None, name: str, exclude: int | None) -> None:
    """Siblings are what a labeler picks between, so they must be told apart at a glance."""
    key = name_key(name)
    siblings = [s for s in tree.children.get(parent_id, []) if s.id != exclude]
    where = "at the top level" if parent_id is None else "under this parent"
    for sibling in siblings:
        if name_key(sibling.name) == key:
            raise Conflict(f"A category named {sibling.name!r} already exists {where}.")
    lookalike = find_lookalike(name, (s.name for s in siblings))
    if lookalike is not None:
        raise Conflict(
            f"The name {name!r} reads like {lookalike!r}, already {where}"
            f"{lookalike_hint(name)}; choose a name that is told apart at a glance."
        )


def _check_shortcut(tree: Tree, shortcut: str, exclude: int | None) -> None:
    if shortcut in RESERVED_KEYS or shortcut not in SHORTCUT_KEYS:
        raise InvalidInput(
            f"shortcut: {shortcut!r} is not available; use a digit or a letter other than "
            f"{', '.join(sorted(RESERVED_KEYS))} (the labeling screen uses those)."
        )
    for c in tree.by_id.values():
        if c.id != exclude and c.shortcut == shortcut:
            raise Conflict(f"The shortcut {shortcut!r} is already used by {c.name!r}.")


def _free_shortcut(tree: Tree) -> str | None:
    used = {c.shortcut for c in tree.by_id.values()}
    return next((key for key in SHORTCUT_KEYS if key not in used), None)


def next_colour(tree: Tree, parent_id: int | None) -> str:
    """What a new category under ``parent_id`` gets: a colour none of its siblings has."""
    siblings = [c.color for c in tree.children.get(parent_id, [])]
    return pick_colour(siblings, [c.color for c in tree.by_id.values()])


def create_category(session: Session, project: Project, new: CategoryCreate) -> Node:
    name, parent_id, shortcut = new.name, new.parent_id, new.shortcut
    check_writable(project)
    tree = load_tree(session, project)
    _check_parent(tree, parent_id)
    _check_name_free(tree, parent_id, name, exclude=None)
    if shortcut is not None:
        _check_shortcut(tree, shortcut, exclude=None)
    siblings = tree.children.get(parent_id, [])
    category = Category(
        project_id=project.id,
        parent_id=parent_id,
        name=name,
        sibling_key=sibling_key(parent_id, name),
        description=new.description,
        shortcut=shortcut or _free_shortcut(tree),
        color=(new.color or next_colour(tree, parent_id)).lower(),
        position=max((s.position for s in siblings), default=-1) + 1,
    )
    session.add(category)
    session.flush()
    tree.by_id[category.id] = category
    return node_of(tree, category)


def update_category(
    session: Session, project: Project, category: Category, changes: CategoryUpdate
) -> Node:
    """Apply the fields the client sent; ``"parent_id": null`` moves it to the root."""
    check_writable(project)
    sent = changes.model_fields_set
    tree = load_tree(session, project)
    parent_id = changes.parent_id if "parent_id" in sent else category.parent_id
    if parent_id != category.parent_id:
        if parent_id == category.id or (
            parent_id is not None and parent_id in tree.descendants(category.id)
        ):
            raise Conflict("That move would put the category inside itself.")
        _check_parent(tree, parent_id, subtree_height=tree.height(category.id))
    name = changes.name if changes.name is not None else category.name
    if parent_id != category.parent_id or name != category.name:
        _check_name_free(tree, parent_id, name, exclude=category.id)
    if changes.shortcut is not None:
        _check_shortcut(tree, changes.shortcut, exclude=category.id)
    if "shortcut" in sent:
        category.shortcut = changes.shortcut
    if changes.description is not None:
        category.description = changes.description
    if changes.color is not None:
        category.color = changes.color.lower()
    moved = parent_id != category.parent_id
    if moved:
        # Close the gap the category leaves among its old siblings.
        old = [s for s in tree.children.get(category.parent_id, []) if s.id != category.id]
        for i, sibling in enumerate(old):
            sibling.position = i
    category.name = name
    category.parent_id = parent_id
    category.sibling_key = sibling_key(parent_id, name)
    if moved or changes.position is not None:
        siblings = [s for s in tree.children.get(parent_id, []) if s.id != category.id]
        index = len(siblings) if changes.position is None else changes.position
        siblings.insert(min(index, len(siblings)), category)
        for i, sibling in enumerate(siblings):
            sibling.position = i
    session.flush()
    return node_of(load_tree(session, project), category)


def check_no_children(session: Session, category: Category) -> None:
    children = session.scalar(
        select(func.count()).select_from(Category).where(Category.parent_id == category.id)
    )
    if children:
        raise Conflict(
            f"{category.name!r} has {children} sub-categories; move or delete them first."
        )


def category_in_project(session: Session, project: Project, category_id: int) -> Category:
    category = get_category(session, category_id)
    if category.project_id != project.id:
        raise NotFound(f"No category with id {category_id}.")
    return category


def check_level(tree: Tree, level: int | None) -> None:
    if level is None:
        return
    depth = max((len(tree.path(c)) for c in tree.by_id.values()), default=0)
    if level > depth:
        raise InvalidInput(
            f"level: {level} is deeper than the taxonomy, which has {depth} level(s)."
        )


def class_map(tree: Tree, level: int | None) -> dict[int, int | None]:
    """Each category's class: itself, its ancestor at ``level``, or None (above the level)."""
    out: dict[int, int | None] = {}
    for category in tree.by_id.values():
        chain = [category.id]
        while (parent := tree.by_id[chain[-1]].parent_id) is not None:
            chain.append(parent)
        chain.reverse()  # root first
        out[category.id] = (
            chain[-1] if level is None else (chain[level - 1] if len(chain) >= level else None)
        )
    return out
