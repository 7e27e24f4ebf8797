"""Apply a labels file to images already imported: a CSV, or a COCO json.

The formats (``filename,category_path`` rows; an export's labels.csv, matched on its
``sha256`` column; a COCO classification json) are read by app.imports.labels_table and
app.imports.labels_coco. A row with a sha256 labels the image with that content; else a
filename matches an image's filename exactly (the path inside a zip or below the
imported folder), or its base name when only one image has it. Categories are created
from the path (``Asteraceae/daisy``) where missing. Each label is a new annotation, so
a label it replaces stays in the history.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Conflict
from app.images.models import Image, ImageStatus
from app.imports.label_items import MAX_BYTES, LabelItem, LabelPath, Lookup, Parsed
from app.imports.labels_coco import looks_like_json, parse_coco
from app.imports.labels_table import parse_csv
from app.labeling import service as labeling
from app.labeling.models import AnnotationSource
from app.projects.models import Project
from app.taxonomy.transfer import MAX_NODES, ensure_paths

__all__ = ["MAX_BYTES", "CsvResult", "apply", "parse"]
MAX_PATHS = MAX_NODES  # distinct categories one file may name: a taxonomy import's limit


@dataclass
class CsvResult:
    applied: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line or position, reason)
    located: bool = False  # the reasons name their entry (COCO): the numbers are no lines

    def messages(self) -> list[str]:
        return [e if self.located else f"line {n}: {e}" for n, e in self.errors]


def parse(data: bytes) -> Parsed:
    """A COCO json when it is a JSON object, else a CSV."""
    return parse_coco(data) if looks_like_json(data) else parse_csv(data)


def limit_paths(parsed: Parsed) -> None:
    """Refuse the items past the MAX_PATHS-th distinct category: a file cannot flood the tree."""
    seen: set[LabelPath] = set()
    kept = []
    for item in parsed.items:
        if item.path not in seen and len(seen) >= MAX_PATHS:
            reason = parsed.about(item, f"more than {MAX_PATHS} categories in one file")
            parsed.errors.append((item.line, reason))
            continue
        seen.add(item.path)
        kept.append(item)
    parsed.items = kept


def apply(session: Session, project: Project, user_id: int | None, data: bytes) -> CsvResult:
    if project.archived:
        raise Conflict("The project is archived; restore it to change labels.")
    parsed = parse(data)
    limit_paths(parsed)
    lookup = Lookup()
    for image_id, filename, sha256 in session.execute(
        select(Image.id, Image.filename, Image.sha256).where(Image.project_id == project.id)
    ):
        lookup.add(image_id, filename, sha256)
    result = CsvResult(errors=parsed.errors, located=parsed.located)
    wanted: list[tuple[LabelItem, int]] = []
    for item in parsed.items:
        found = lookup.find(item, "this project")
        if isinstance(found, str):
            result.errors.append((item.line, parsed.about(item, found)))
        else:
            wanted.append((item, found))
    categories = ensure_paths(session, project, {item.path for item, _ in wanted})
    for item, image_id in wanted:
        category = categories[item.path]
        if isinstance(category, str):
            result.errors.append((item.line, parsed.about(item, category)))
            continue
        image = session.get_one(Image, image_id)
        if image.status is ImageStatus.labeled and image.category_id == category:
            result.unchanged += 1
            continue
        labeling.annotate(
            session, image, user_id, category_id=category, source=AnnotationSource.imported
        )
        result.applied += 1
    result.errors.sort(key=lambda error: error[0])
    return result
