"""The agreement card: the figures, read in plain words, and links to the images behind
each confused pair (by URL: the gallery and image pages live in a layer above)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from app.insights.agreement import has_opinions, project_agreement
from app.insights.agreement_schemas import Agreement
from app.labeling.overlap import open_disputes
from app.projects.models import Project

TOP_CONFUSIONS = 10
IMAGES_PER_CONFUSION = 12  # links shown per pair; the count says how many there are
ROUGH_BELOW = 30  # images: under this a coefficient swings with every image

# Landis & Koch (1977), the customary reading of kappa; upper bounds, inclusive.
KAPPA_WORDS = (
    (0.0, "no better than chance"),
    (0.20, "slight"),
    (0.40, "fair"),
    (0.60, "moderate"),
    (0.80, "substantial"),
    (1.0, "almost perfect"),
)


def kappa_words(kappa: float | None) -> str:
    if kappa is None:
        return "not enough images yet"
    for bound, words in KAPPA_WORDS:
        if kappa <= bound + 1e-9:
            return words
    return KAPPA_WORDS[-1][1]


def alpha_words(alpha: float | None) -> str:
    """Krippendorff's own thresholds (Content Analysis, 2004)."""
    if alpha is None:
        return "not enough images yet"
    if alpha >= 0.8:
        return "reliable"
    if alpha >= 0.667:
        return "good enough for tentative conclusions only"
    return "not reliable: the guidelines or the categories need work"


@dataclass(frozen=True)
class Link:
    text: str
    url: str


@dataclass(frozen=True)
class ConfusionRow:
    sides: tuple[Link, Link]  # each category's gallery (or the rejected images)
    images: int
    image_links: list[Link]


@dataclass(frozen=True)
class AgreementCard:
    project_id: int
    data: Agreement
    kappa_reading: str
    alpha_reading: str
    rough: bool  # too few images for the figures to be more than a first impression
    confusions: list[ConfusionRow]
    open_disputes: int
    lazy: bool = False  # the card itself (see AgreementSlot)


def _gallery(project_id: int, category_id: int | None, path: str) -> Link:
    query = {"status": "rejected"} if category_id is None else {"category": str(category_id)}
    return Link(path, f"/projects/{project_id}/images?{urlencode(query)}")


def card(session: Session, project: Project) -> AgreementCard:
    data = project_agreement(session, project)
    rows = [
        ConfusionRow(
            sides=(
                _gallery(project.id, c.category_ids[0], c.paths[0]),
                _gallery(project.id, c.category_ids[1], c.paths[1]),
            ),
            images=c.images,
            image_links=[Link(f"#{i}", f"/images/{i}") for i in c.image_ids[:IMAGES_PER_CONFUSION]],
        )
        for c in data.confusions[:TOP_CONFUSIONS]
    ]
    return AgreementCard(
        project_id=project.id,
        data=data,
        kappa_reading=kappa_words(data.kappa),
        alpha_reading=alpha_words(data.alpha),
        rough=data.images < ROUGH_BELOW,
        confusions=rows,
        open_disputes=open_disputes(session, project.id),
    )


@dataclass(frozen=True)
class AgreementSlot:
    """The project page's place for the card, which htmx loads (``lazy``): the figures
    are computed on that request, so the project page stays quick."""

    project_id: int
    lazy: bool = True


def slot_for_page(session: Session, project: Project, can_manage: bool) -> AgreementSlot | None:
    """The project page's agreement (registered by app.pages). Managers only, like the
    API: it grades each labeler. None while second labels are off and no image ever got
    two opinions."""
    if not can_manage:
        return None
    if project.overlap_percent == 0 and not has_opinions(session, project):
        return None
    return AgreementSlot(project.id)
