"""Stream an export as a zip: the same bytes for the API's download and the CLI's file.

Images are stored (JPEGs do not deflate); labels.csv, annotations.json and the
manifest are deflated. Rows of labels.csv and annotations.json are spooled to temporary
files while the images stream, because a zip written front to back holds one entry at a
time. The manifest comes last, so its counts are what was really written.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime
from typing import IO, Any

from sqlalchemy.orm import Session

from app.db import utcnow
from app.exports import manifest, naming
from app.exports.options import SPLITS, ExportOptions
from app.exports.service import Plan, Row, categories_at, iter_rows
from app.exports.zipstream import ZipStream, read_chunks
from app.images.storage import ImageStore
from app.projects.models import Project

log = logging.getLogger("curator.exports")
CSV_HEADER = (
    "filename", "category_path", "split", "image_id", "sha256", "width", "height",
    "source", "annotator", "annotated_at",
)  # fmt: skip


def download_name(project: Project, options: ExportOptions) -> str:
    return f"{naming.slug(project.name, f'project-{project.id}')}-{options.format}.zip"


class _Spool:
    """Text written to a temporary file, then copied into the zip as one entry."""

    def __init__(self, stack: ExitStack) -> None:
        self.raw = stack.enter_context(tempfile.TemporaryFile("w+b"))  # noqa: SIM115 - the stack closes it
        self.text = io.TextIOWrapper(self.raw, encoding="utf-8", newline="")
        stack.callback(self.text.detach)  # the ExitStack closes the file itself

    def rewind(self) -> int:
        self.text.flush()
        size = self.raw.tell()
        self.raw.seek(0)
        return size


class _Sheet:
    """labels.csv or annotations.json, one row per exported image."""

    def __init__(self, plan: Plan, stack: ExitStack, exported_at: datetime) -> None:
        self.plan = plan
        self.exported_at = exported_at
        self.paths = {c: "/".join(p) for c, p in plan.classes.items()}
        self.rows = _Spool(stack)
        self.annotations = _Spool(stack) if plan.options.format == "coco" else None
        self.csv = csv.writer(self.rows.text)
        self.count = 0
        if self.annotations is None:
            self.csv.writerow(CSV_HEADER)

    def add(self, row: Row, filename: str, class_id: int, split: str | None) -> None:
        when = row.annotated_at.isoformat() if row.annotated_at else ""
        if self.annotations is None:
            self.csv.writerow(
                (filename, self.paths[class_id], split or "", row.id, row.sha256, row.width,
                 row.height, row.source or "", row.annotator or "", when)
            )  # fmt: skip
            return
        sep = "," if self.count else ""
        self.count += 1
        image = {"id": row.id, "file_name": filename, "width": row.width, "height": row.height,
                 "split": split, "sha256": row.sha256}  # fmt: skip
        self.rows.text.write(sep + "\n" + json.dumps(image, ensure_ascii=False))
        note = {
            "id": row.id,
            "image_id": row.id,
            "category_id": class_id,
            "source": row.source,
            "annotator": row.annotator,
            "annotated_at": when or None,
        }
        self.annotations.text.write(sep + "\n" + json.dumps(note, ensure_ascii=False))

    def write(self, z: ZipStream) -> Iterator[bytes]:
        if self.annotations is None:
            size = self.rows.rewind()
            yield from z.entry("labels.csv", read_chunks(self.rows.raw), size, deflate=True)
            return
        head = _coco_head(self.plan, self.exported_at)
        size_images, size_notes = self.rows.rewind(), self.annotations.rewind()
        parts: list[bytes | IO[bytes]] = [
            head,
            self.rows.raw,
            b'\n],\n"annotations": [',
            self.annotations.raw,
            b"\n]}\n",
        ]
        size = len(head) + size_images + size_notes + 30
        yield from z.entry("annotations.json", _concat(parts), size, deflate=True)


def _concat(parts: list[bytes | IO[bytes]]) -> Iterator[bytes]:
    for part in parts:
        if isinstance(part, bytes):
            yield part
        else:
            yield from read_chunks(part)


def _coco_head(plan: Plan, exported_at: datetime) -> bytes:
    info = {
        "description": f"{plan.project.name}: exported by Curator (classification)",
        "date_created": exported_at.isoformat(),
        "splits": list(SPLITS) if plan.options.split else [],
    }
    names = plan.tree.by_id
    categories: list[dict[str, Any]] = [
        {
            "id": c.id,
            "name": c.name,
            "supercategory": names[c.parent_id].name if c.parent_id is not None else None,
            "path": "/".join(plan.classes[c.id]),
        }
        for c in categories_at(plan)
    ]
    head = {"info": info, "licenses": [], "categories": categories}
    text = json.dumps(head, ensure_ascii=False, indent=1)
    return (text[: text.rindex("}")].rstrip() + ',\n"images": [').encode()


def stream_export(
    session: Session,
    plan: Plan,
    store: ImageStore,
    on_image: Callable[[], None] | None = None,
    tally: manifest.Tally | None = None,
) -> Iterator[bytes]:
    """The export's zip, chunk by chunk; ``on_image`` is called once per planned image."""
    opts = plan.options
    exported_at = utcnow()
    z = ZipStream(exported_at)
    names = naming.UniqueNames()
    tally = tally if tally is not None else manifest.Tally()
    with_files = opts.format == "imagefolder" or opts.images
    root = "" if opts.format == "imagefolder" else "images/"
    folders = {c: naming.folder(path) for c, path in plan.classes.items()}
    with ExitStack() as stack:
        sheet = None if opts.format == "imagefolder" else _Sheet(plan, stack, exported_at)
        for row in iter_rows(session, plan.project.id):
            found = plan.lookup(row.id)
            if found is None:
                continue  # labeled after the plan was made: not in this export
            class_id, code = found
            split = SPLITS[code] if code < len(SPLITS) else None
            filename = row.filename
            if with_files:
                try:
                    source = store.store.open(store.original_key(row.sha256))
                except FileNotFoundError:
                    log.warning("export: the original of image %s is missing", row.id)
                    tally.missing_files += 1
                    if on_image:
                        on_image()
                    continue
                folder = root + (f"{split}/" if split else "") + folders[class_id]
                base = naming.basename(row.filename, row.id, row.format)
                filename = names.claim(folder, base, row.id)
                with source:
                    yield from z.entry(filename, read_chunks(source), row.size_bytes, deflate=False)
            tally.add(class_id, split, row.source, row.annotator)
            if sheet is not None:
                sheet.add(row, filename, class_id, split)
            if on_image:
                on_image()
        if sheet is not None:
            yield from sheet.write(z)
    body = json.dumps(manifest.build(plan, tally, exported_at), ensure_ascii=False, indent=2)
    data = body.encode()
    yield from z.entry("manifest.json", [data], len(data), deflate=True)
    yield from z.close()
