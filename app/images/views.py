"""Read-only shapes of images for the pages: gallery query and tiles, image history, imports."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import get_args
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from app.auth import service as auth
from app.images import duplicates, service
from app.images.decode import THUMBNAIL_SIZE
from app.images.models import BatchStatus, Image, ImageStatus, ImportBatch
from app.labeling import service as labeling
from app.labeling.models import AnnotationSource
from app.projects.models import Project
from app.taxonomy.service import Tree, load_tree
from app.web.forms import FormError

PAGE_SIZE = 60
GROUPS_PER_PAGE = 20
# Offsets past this are never useful to a person and would make the database scan.
MAX_PAGE = 100_000
SORTS: tuple[str, ...] = get_args(service.Sort)
STATUSES = ("all", *(s.value for s in ImageStatus))
ACTIVE = (BatchStatus.queued, BatchStatus.running)


def _id(field: str, raw: str) -> int | None:
    """A blank field means "any"; anything else must be a positive id."""
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isdecimal() or not 0 < int(raw) < 2**31:
        raise FormError(f"{field}: {raw[:40]!r} is not a valid id; pick one from the list.")
    return int(raw)


def parse_page(raw: str) -> int:
    raw = raw.strip() or "1"
    if not raw.isdecimal() or not 1 <= int(raw) <= MAX_PAGE:
        raise FormError(f"Page: {raw[:40]!r} is not a page number (1 to {MAX_PAGE}).")
    return int(raw)


def parse_form_id(field: str, raw: str) -> int:
    value = _id(field, raw)
    if value is None:
        raise FormError(f"{field}: missing.")
    return value


@dataclass(frozen=True)
class GalleryQuery:
    """Everything the gallery shows is in its URL: these are its query parameters."""

    status: str = "all"
    category: int | None = None
    batch: int | None = None
    group: int | None = None
    near: bool = False
    sort: str = "newest"
    page: int = 1

    @classmethod
    def parse(
        cls, status: str, category: str, batch: str, group: str, near: str, sort: str, page: str
    ) -> GalleryQuery:
        status = status.strip() or "all"
        if status not in STATUSES:
            raise FormError(f"Status: {status[:40]!r} is not one of {', '.join(STATUSES)}.")
        sort = sort.strip() or "newest"
        if sort not in SORTS:
            raise FormError(f"Sort: {sort[:40]!r} is not one of {', '.join(SORTS)}.")
        return cls(
            status=status,
            category=_id("Category", category),
            batch=_id("Import", batch),
            group=_id("Duplicate group", group),
            near=near.strip().lower() in ("1", "true", "on", "yes"),
            sort=sort,
            page=parse_page(page),
        )

    def image_filter(self) -> service.ImageFilter:
        status = None if self.status == "all" else ImageStatus(self.status)
        return service.ImageFilter(status, self.category, self.batch, self.group, self.near)

    def params(self) -> dict[str, str]:
        """The non-default parameters, in a stable order: short, shareable URLs."""
        out: dict[str, str] = {}
        if self.status != "all":
            out["status"] = self.status
        if self.category is not None:
            out["category"] = str(self.category)
        if self.batch is not None:
            out["batch"] = str(self.batch)
        if self.group is not None:
            out["group"] = str(self.group)
        if self.near:
            out["near"] = "1"
        if self.sort != "newest":
            out["sort"] = self.sort
        if self.page != 1:
            out["page"] = str(self.page)
        return out

    def url(self, project_id: int, **changes: object) -> str:
        query = urlencode(replace(self, **changes).params())  # type: ignore[arg-type]
        return f"/projects/{project_id}/images" + (f"?{query}" if query else "")

    @property
    def filtered(self) -> bool:
        return bool({k: v for k, v in self.params().items() if k not in ("sort", "page")})


@dataclass(frozen=True)
class Label:
    """An image's current label as the pages show it: a category path, or a rejection."""

    status: ImageStatus
    path: str | None = None
    color: str | None = None


@dataclass(frozen=True)
class Tile:
    image: Image
    label: Label
    # The thumbnail's own size (at most THUMBNAIL_SIZE), so the grid never reflows.
    width: int
    height: int


@dataclass(frozen=True)
class CategoryOption:
    id: int
    path: str
    depth: int


@dataclass(frozen=True)
class Labels:
    """Category paths and colors of a project, from one query of its tree."""

    tree: Tree

    def path(self, category_id: int | None) -> str | None:
        if category_id is None or category_id not in self.tree.by_id:
            return None
        return "/".join(self.tree.path(self.tree.by_id[category_id]))

    def of(self, image: Image) -> Label:
        category = self.tree.by_id.get(image.category_id) if image.category_id else None
        return Label(
            image.status,
            self.path(image.category_id),
            category.color if category is not None else None,
        )

    def tile(self, image: Image) -> Tile:
        scale = min(1.0, THUMBNAIL_SIZE / max(image.width, image.height, 1))
        width = max(1, round(image.width * scale))
        height = max(1, round(image.height * scale))
        return Tile(image, self.of(image), width, height)

    def options(self) -> list[CategoryOption]:
        return [CategoryOption(n.category.id, n.path, n.depth) for n in self.tree.depth_first()]


def labels_of(session: Session, project: Project) -> Labels:
    return Labels(load_tree(session, project))


@dataclass(frozen=True)
class Gallery:
    tiles: list[Tile]
    total: int
    pages: int
    counts: dict[ImageStatus, int]
    categories: list[CategoryOption]
    batches: list[ImportBatch]


def gallery(session: Session, project: Project, query: GalleryQuery) -> Gallery:
    """One page of the gallery; a category or import of another project is a 404."""
    labels = labels_of(session, project)
    batches = service.list_batches(session, project.id, limit=200)
    if query.batch is not None:
        chosen = service.batch_in_project(session, project, query.batch)
        if chosen not in batches:
            batches.append(chosen)
    images, total = service.list_images(
        session,
        project,
        query.image_filter(),
        sort=query.sort,  # type: ignore[arg-type]  # checked against SORTS by parse
        limit=PAGE_SIZE,
        offset=(query.page - 1) * PAGE_SIZE,
    )
    return Gallery(
        tiles=[labels.tile(i) for i in images],
        total=total,
        pages=max(1, -(-total // PAGE_SIZE)),
        counts=service.status_counts(session, project.id),
        categories=labels.options(),
        batches=batches,
    )


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    user: str | None
    what: str  # a category path, "rejected: reason", or "cleared"
    source: AnnotationSource
    # Kept and compared, but it did not change the image's current label.
    second_opinion: bool = False


def history(session: Session, labels: Labels, image: Image) -> list[HistoryEntry]:
    annotations = labeling.history(session, image.id)
    names = auth.usernames(session, {a.user_id for a in annotations if a.user_id is not None})
    entries = []
    for a in annotations:
        if a.rejected:
            what = f"rejected: {a.reason}" if a.reason else "rejected"
        elif a.category_id is not None:
            what = labels.path(a.category_id) or f"category #{a.category_id}"
        else:
            what = "cleared"
        user = names.get(a.user_id) if a.user_id is not None else None
        entries.append(HistoryEntry(a.created_at, user, what, a.source, a.second_opinion))
    return entries


def rejection_reason(session: Session, image: Image) -> str | None:
    """Why the image is rejected, from the latest annotation that set its label."""
    if image.status is not ImageStatus.rejected:
        return None
    # A later second opinion (its own reason, or a category) left the label as it was.
    annotations = [a for a in labeling.history(session, image.id) if not a.second_opinion]
    return annotations[-1].reason if annotations else None


@dataclass(frozen=True)
class Group:
    id: int
    tiles: list[Tile]


@dataclass(frozen=True)
class DuplicatesPage:
    groups: list[Group]
    total: int
    pages: int


def duplicate_groups(session: Session, project: Project, page: int) -> DuplicatesPage:
    labels = labels_of(session, project)
    offset = (page - 1) * GROUPS_PER_PAGE
    groups = duplicates.list_groups(session, project.id, GROUPS_PER_PAGE, offset)
    total = duplicates.count_groups(session, project.id)
    return DuplicatesPage(
        groups=[Group(g[0].dup_group_id or 0, [labels.tile(i) for i in g]) for g in groups if g],
        total=total,
        pages=max(1, -(-total // GROUPS_PER_PAGE)),
    )


def any_active(batches: list[ImportBatch]) -> bool:
    return any(b.status in ACTIVE for b in batches)
