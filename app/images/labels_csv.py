"""Labels from a CSV of ``filename,category_path`` rows, for images already imported.

A filename matches an image's filename exactly (the path inside a zip or below the
imported folder), or else its base name when only one image has it. Categories are
created from the path (``Asteraceae/daisy``) where missing. Each label is a new
annotation, so a label it replaces stays in the history.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput
from app.images.models import Image, ImageStatus
from app.labeling import service as labeling
from app.labeling.models import AnnotationSource
from app.projects.models import Project
from app.taxonomy.transfer import ensure_paths

MAX_ROWS = 1_000_000
MAX_BYTES = 64 * 2**20
_HEADER = ["filename", "category_path"]


@dataclass
class CsvResult:
    applied: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


def _rows(data: bytes) -> list[tuple[int, list[str]]]:
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"The CSV is over the {MAX_BYTES // 2**20} MiB limit.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("The CSV is not UTF-8 text.") from None
    try:
        rows = list(enumerate(csv.reader(io.StringIO(text, newline="")), start=1))
    except csv.Error as exc:
        raise InvalidInput(f"The CSV cannot be read: {exc}.") from None
    if len(rows) > MAX_ROWS:
        raise InvalidInput(f"The CSV has {len(rows):,} rows; at most {MAX_ROWS:,} are allowed.")
    if rows and [c.strip().lower() for c in rows[0][1]] == _HEADER:
        rows = rows[1:]
    return rows


def apply(session: Session, project: Project, user_id: int | None, data: bytes) -> CsvResult:
    if project.archived:
        raise Conflict("The project is archived; restore it to change labels.")
    rows = _rows(data)
    exact: dict[str, list[int]] = defaultdict(list)
    base: dict[str, list[int]] = defaultdict(list)
    for image_id, filename in session.execute(
        select(Image.id, Image.filename).where(Image.project_id == project.id)
    ):
        exact[filename].append(image_id)
        base[filename.rsplit("/", 1)[-1]].append(image_id)
    result = CsvResult()
    wanted: list[tuple[int, int, tuple[str, ...]]] = []
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 2:
            result.errors.append(
                (line, f"expected 2 columns (filename,category_path), got {len(row)}")
            )
            continue
        filename, path = row[0].strip(), tuple(p.strip() for p in row[1].split("/") if p.strip())
        matches = exact.get(filename) or base.get(filename.rsplit("/", 1)[-1], [])
        if not path:
            result.errors.append((line, "the category path is empty"))
        elif not matches:
            result.errors.append((line, f"no image named {filename!r} in this project"))
        elif len(matches) > 1:
            result.errors.append(
                (line, f"{len(matches)} images are named {filename!r}; use the full path")
            )
        else:
            wanted.append((line, matches[0], path))
    categories = ensure_paths(session, project, {path for _, _, path in wanted})
    for line, image_id, path in wanted:
        category = categories[path]
        if isinstance(category, str):
            result.errors.append((line, category))
            continue
        image = session.get_one(Image, image_id)
        if image.status is ImageStatus.labeled and image.category_id == category:
            result.unchanged += 1
            continue
        labeling.annotate(
            session, image, user_id, category_id=category, source=AnnotationSource.imported
        )
        result.applied += 1
    return result
