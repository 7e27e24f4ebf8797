"""Categories that carry labels: counts per node, merges, and deletes that move labels.
They write image and annotation rows, so they sit in labeling, above the taxonomy.

Labels are people's work. A taxonomy edit moves their references to another category
(history rows and current labels alike); it never drops them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput
from app.images.models import Image
from app.labeling.models import Annotation
from app.names import name_key
from app.projects.models import Project
from app.taxonomy import service
from app.taxonomy.models import Category, CategoryExample
from app.taxonomy.service import Tree


@dataclass(frozen=True)
class Counts:
    image_count: int  # images whose current label is this node
    subtree_count: int  # the same, this node and every node below it


def subtree_counts(session: Session, project: Project, tree: Tree) -> dict[int, Counts]:
    """Every node's counts from one grouped query; the sub-tree sums are done here."""
    own: dict[int, int] = {
        category_id: n
        for category_id, n in session.execute(
            select(Image.category_id, func.count())
            .where(Image.project_id == project.id, Image.category_id.is_not(None))
            .group_by(Image.category_id)
        )
        if category_id is not None
    }
    out: dict[int, Counts] = {}
    # Children after parents in depth_first order, so walking it backwards sums bottom-up.
    for node in reversed(tree.depth_first()):
        cid = node.category.id
        below = sum(out[c.id].subtree_count for c in tree.children.get(cid, []))
        out[cid] = Counts(own.get(cid, 0), own.get(cid, 0) + below)
    return out


@dataclass(frozen=True)
class LabelRefs:
    annotations: int  # history rows naming the category
    images: int  # images whose current label it is

    @property
    def total(self) -> int:
        return self.annotations + self.images


def label_refs(session: Session, category_id: int) -> LabelRefs:
    annotations = session.scalar(
        select(func.count()).select_from(Annotation).where(Annotation.category_id == category_id)
    )
    images = session.scalar(
        select(func.count()).select_from(Image).where(Image.category_id == category_id)
    )
    return LabelRefs(annotations or 0, images or 0)


def labeled_category_ids(session: Session, project: Project) -> set[int]:
    """Categories that deleting would have to move labels away from (for the page's forms)."""
    found: set[int] = set()
    for model in (Annotation, Image):
        found.update(
            cid
            for cid in session.scalars(
                select(model.category_id)
                .where(model.project_id == project.id, model.category_id.is_not(None))
                .distinct()
            )
            if cid is not None
        )
    return found


def _move_references(session: Session, source: Category, target: Category) -> None:
    """Point every label and pinned example of ``source`` at ``target``.

    Annotations are otherwise append-only; here the category they name is going away, and
    rewriting the reference is what keeps who-said-what-when, rather than losing it.
    """
    session.execute(
        update(Annotation)
        .where(Annotation.category_id == source.id)
        .values(category_id=target.id)
        .execution_options(synchronize_session="fetch")
    )
    session.execute(
        update(Image)
        .where(Image.category_id == source.id)
        .values(category_id=target.id)
        .execution_options(synchronize_session="fetch")
    )
    # An image pinned to both keeps the target's pin (and kind); the rest move over.
    already = select(CategoryExample.image_id).where(CategoryExample.category_id == target.id)
    session.execute(
        delete(CategoryExample).where(
            CategoryExample.category_id == source.id, CategoryExample.image_id.in_(already)
        )
    )
    session.execute(
        update(CategoryExample)
        .where(CategoryExample.category_id == source.id)
        .values(category_id=target.id)
        .execution_options(synchronize_session="fetch")
    )


def merge_category(
    session: Session, project: Project, category: Category, into_id: int
) -> Category:
    """Fold ``category`` into ``into_id``: labels, examples and children move, then it
    goes; same-named children are merged too (the whole request rolls back on an error)."""
    service.check_writable(project)
    tree = service.load_tree(session, project)
    if into_id == category.id:
        raise InvalidInput("into_id: a category cannot be merged into itself.")
    into = tree.by_id.get(into_id)
    if into is None:
        raise InvalidInput(f"into_id: {into_id} is not a category of this project.")
    if into_id in tree.descendants(category.id):
        raise Conflict(
            f"{into.name!r} is inside {category.name!r}; merge it the other way round, "
            "or move it out first."
        )
    _fold(session, tree, category, into)
    return into


def _fold(session: Session, tree: Tree, category: Category, into: Category) -> None:
    """Move ``category``'s labels and children into ``into``, then delete it. A child
    named like one of ``into``'s own children is folded into that one, recursively:
    merging "hound" into "dog" when both have "labrador" leaves one "labrador"."""
    # The merged category itself leaves ``into``'s children: its name is free again.
    twins = {name_key(c.name): c for c in tree.children.get(into.id, []) if c.id != category.id}
    children = tree.children.get(category.id, [])
    moving = [c for c in children if name_key(c.name) not in twins]
    # The children keep their sub-trees, now one level below ``into``.
    deepest = max((tree.height(c.id) for c in moving), default=0)
    if moving and len(tree.path(into)) + deepest > service.MAX_DEPTH:
        raise InvalidInput(f"into_id: the tree would be deeper than {service.MAX_DEPTH} levels.")
    for child in children:
        if (twin := twins.get(name_key(child.name))) is not None:
            _fold(session, tree, child, twin)
    # Free its sibling key first: a child may take its name under the same parent.
    category.sibling_key = f"merging/{category.id}"
    session.flush()
    last = max((c.position for c in tree.children.get(into.id, [])), default=-1)
    for i, child in enumerate(moving, start=last + 1):
        child.parent_id = into.id
        child.sibling_key = service.sibling_key(into.id, child.name)
        child.position = i
    session.flush()
    _move_references(session, category, into)
    _delete(session, tree, category)


def delete_category(
    session: Session,
    project: Project,
    category: Category,
    *,
    to_parent: bool = False,
    move_to: int | None = None,
) -> Category | None:
    """Delete; labels pointing at it must be given a home. Returns where they went, if anywhere."""
    service.check_writable(project)
    if to_parent and move_to is not None:
        raise InvalidInput("Choose one: labels=parent or move_to, not both.")
    service.check_no_children(session, category)
    tree = service.load_tree(session, project)
    target: Category | None = None
    if to_parent:
        if category.parent_id is None:
            raise Conflict(
                f"{category.name!r} is a top-level category with no parent: "
                "choose another category for its labels (move_to)."
            )
        target = tree.by_id[category.parent_id]
    elif move_to is not None:
        if move_to == category.id:
            raise InvalidInput("move_to: choose a category other than the one being deleted.")
        target = tree.by_id.get(move_to)
        if target is None:
            raise InvalidInput(f"move_to: {move_to} is not a category of this project.")
    refs = label_refs(session, category.id)
    if refs.total and target is None:
        raise Conflict(
            f"{category.name!r} has {refs.annotations} labels in the history "
            f"({refs.images} images labeled with it now). Choose where they go: "
            "move them to the parent (labels=parent) or to another category (move_to=<id>)."
        )
    if target is not None:
        _move_references(session, category, target)
    _delete(session, tree, category)
    return target if refs.total else None


def _delete(session: Session, tree: Tree, category: Category) -> None:
    session.delete(category)
    session.flush()
    # Close the gap among its old siblings, as a move does.
    siblings = [s for s in tree.children.get(category.parent_id, []) if s.id != category.id]
    for i, sibling in enumerate(siblings):
        sibling.position = i
    session.flush()
