"""A project's annotator agreement, read from its overlaps (see app.labeling.overlap).

The opinions on an image are its overlap's first label and the second, independent one;
an image counts once it has both. A rejection is a label of its own, so "one rejected
it, the other called it wine" is a disagreement. The final label is the image's current
one where it is decided: the two agreed, or a manager settled their dispute; an image
still waiting in the disagreements queue has no final label yet (its current label is
just the first opinion, which would flatter the first annotator).

Categories are compared as they were said: a parent and its child are different labels.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from app.auth.models import User
from app.images.models import Image, ImageStatus
from app.insights import agreement_math as math
from app.insights.agreement_schemas import (
    Agreement,
    AnnotatorAgreement,
    AnnotatorPair,
    CategoryAgreement,
    ConfusedPair,
)
from app.labeling.models import Annotation, Overlap, OverlapState
from app.projects.models import Project
from app.taxonomy import service as taxonomy

MAX_IMAGE_IDS = 50  # per confused pair: the API's list; the count is always whole
REJECTED = "rejected"  # how a rejection reads where a category path would stand
SETTLED = (OverlapState.agreed, OverlapState.resolved)
COMPARED = (*SETTLED, OverlapState.disagreed)  # the states of an image with two opinions


def _label(category_id: int | None, rejected: bool) -> int | None:
    # None stands for a rejection; a first or second opinion is never "unlabeled".
    return None if rejected else category_id


def opinions(session: Session, project: Project) -> list[math.Item]:
    """Every image of the project with two opinions, and its final label where decided.

    The first opinion is the label the second one was compared with (as
    ``overlap.after_decision`` did): the image's label when the second opinion came,
    which is the first labeler's correction if they changed their mind meanwhile."""
    first, second, earlier = aliased(Annotation), aliased(Annotation), aliased(Annotation)
    compared_with = (
        select(func.max(earlier.id))
        .where(
            earlier.image_id == Overlap.image_id,
            earlier.id < Overlap.second_annotation_id,
            earlier.second_opinion.is_(False),
        )
        .correlate(Overlap)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            Overlap.image_id,
            Overlap.state,
            first.user_id,
            first.category_id,
            first.rejected,
            second.user_id,
            second.category_id,
            second.rejected,
            Image.category_id,
            Image.status,
        )
        .select_from(Overlap)
        .join(first, first.id == compared_with)
        .join(second, second.id == Overlap.second_annotation_id)
        .join(Image, Image.id == Overlap.image_id)
        .where(Overlap.project_id == project.id)
        .order_by(Overlap.image_id)
    )
    items = []
    for image_id, state, u1, c1, r1, u2, c2, r2, current, status in rows:
        settled = state in SETTLED and status != ImageStatus.unlabeled
        final = _label(current, status == ImageStatus.rejected)
        said = ((u1, _label(c1, r1)), (u2, _label(c2, r2)))
        items.append(math.Item(image_id, said, settled, final))
    return items


def has_opinions(session: Session, project: Project) -> bool:
    """Whether any image of the project got a second opinion (one indexed look-up)."""
    found = session.scalar(
        select(Overlap.image_id)
        .where(Overlap.project_id == project.id, Overlap.state.in_(COMPARED))
        .limit(1)
    )
    return found is not None


def _usernames(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(ids)))
    return dict(rows.all())


def project_agreement(session: Session, project: Project) -> Agreement:
    found = math.report(opinions(session, project))
    tree = taxonomy.load_tree(session, project)
    paths = {n.category.id: n.path for n in tree.depth_first()}

    def path(label: object) -> str:
        if label is None:
            return REJECTED
        return paths.get(label, f"category {label}") if isinstance(label, int) else str(label)

    def category_id(label: object) -> int | None:
        return label if isinstance(label, int) else None

    names = _usernames(session, {r.rater for r in found.raters})
    return Agreement(
        kappa=found.kappa,
        alpha=found.alpha,
        images=found.images,
        min_images=math.MIN_IMAGES,
        pairs=[
            AnnotatorPair(
                user_ids=list(p.raters),
                usernames=[names.get(r, f"user {r}") for r in p.raters],
                images=p.images,
                agreement=p.agreement,
                kappa=p.kappa,
            )
            for p in found.pairs
        ],
        annotators=[
            AnnotatorAgreement(
                user_id=r.rater,
                username=names.get(r.rater, f"user {r.rater}"),
                labels=r.labels,
                compared=r.compared,
                agreement_with_final=r.agreement_with_final,
            )
            for r in found.raters
        ],
        categories=[
            CategoryAgreement(
                category_id=category_id(c.label),
                path=path(c.label),
                rejected=c.label is None,
                opinions=c.opinions,
                images=c.images,
                agreement=c.agreement,
                kappa=c.kappa,
                alpha=c.alpha,
            )
            for c in found.labels
        ],
        confusions=[
            ConfusedPair(
                category_ids=[category_id(label) for label in c.labels],
                paths=[path(label) for label in c.labels],
                images=len(c.keys),
                image_ids=c.keys[:MAX_IMAGE_IDS],
            )
            for c in found.confusions
        ],
    )
