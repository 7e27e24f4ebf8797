"""Read-only shapes of a project's taxonomy for the pages: the tree as nested branches."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from app.images.examples import Examples, examples_by_category
from app.labeling.category_labels import Counts, labeled_category_ids, subtree_counts
from app.projects.models import Project
from app.taxonomy.service import Node, load_tree, next_colour


@dataclass(frozen=True)
class Branch:
    node: Node
    # Its place among its siblings, counting from 0: the position that leaves it where it is.
    index: int
    children: list[Branch]
    # Where the category may move: every node but itself and those below it.
    parents: list[Node]


@dataclass(frozen=True)
class TaxonomyView:
    roots: list[Branch]
    nodes: list[Node]
    # What the service would pick for a new category, so a color input can start there.
    next_color: str
    counts: dict[int, Counts] = field(default_factory=dict)
    examples: dict[int, Examples] = field(default_factory=dict)
    # Categories whose delete form must ask where their labels go (managers only).
    labeled: set[int] = field(default_factory=set)


def taxonomy_view(session: Session, project: Project, *, with_labeled: bool) -> TaxonomyView:
    tree = load_tree(session, project)
    nodes = tree.depth_first()
    branches: dict[int, Branch] = {}
    roots: list[Branch] = []
    for node in nodes:
        category = node.category
        below = tree.descendants(category.id) | {category.id}
        # Depth first: the parent's branch is already there.
        siblings = roots if category.parent_id is None else branches[category.parent_id].children
        parents = [n for n in nodes if n.category.id not in below]
        branch = Branch(node, len(siblings), [], parents)
        branches[category.id] = branch
        siblings.append(branch)
    return TaxonomyView(
        roots,
        nodes,
        next_colour(tree, None),
        subtree_counts(session, project, tree),
        examples_by_category(session, list(tree.by_id)),
        labeled_category_ids(session, project) if with_labeled else set(),
    )
