"""The labels an upload carries for its own files: a labels file in its zip, or its folders.

A zip may hold, at its root, a labels file beside the images: a CSV export's
labels.csv or a COCO json (our export's annotations.json). Its rows label the files of
the same zip, matched by content when the row has a sha256, else by the path inside the
zip or a base name only one row has. Files it does not name take their folders' label
when the upload asks for labels from folders. An ImageFolder export made with a split
(``train/<category path>/...``) says so in its manifest.json, and the split folder is
then not taken for a category.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, BinaryIO

from app.errors import InvalidInput
from app.imports.archive import ArchiveLimits, Member, is_zip, iter_sidecars
from app.imports.ingest import Failed, folder_label
from app.imports.label_items import MAX_BYTES, LabelItem, LabelPath, Parsed, basename, short
from app.imports.labels_csv import limit_paths, parse

_SPLITS = frozenset({"train", "val", "test"})  # app.exports.options.SPLITS


class _Table:
    """One labels file's items, indexed to find the item of an imported file."""

    def __init__(self, source: str, parsed: Parsed) -> None:
        self.source = source
        self.parsed = parsed
        self.unused = {id(item): item for item in parsed.items}
        self.by_sha: dict[str, LabelItem] = {}
        self.by_name: dict[str, LabelItem] = {}
        self.by_base: dict[str, list[LabelItem]] = defaultdict(list)
        for item in parsed.items:
            if item.sha256 is not None:  # the content decides: a same-named file is not it
                self.by_sha.setdefault(item.sha256, item)
            elif item.filename is not None:
                self.by_name.setdefault(item.filename, item)
                self.by_base[basename(item.filename)].append(item)

    def find(self, name: str, sha256: str) -> LabelItem | None:
        item = self.by_sha.get(sha256) or self.by_name.get(name)
        if item is None:
            same_base = self.by_base.get(basename(name), [])
            item = same_base[0] if len(same_base) == 1 else None
        if item is not None:
            self.unused.pop(id(item), None)
        return item

    def leftovers(self) -> Failed | None:
        """One error for the rows that labeled no file of the upload, or None."""
        if not self.unused:
            return None
        first = min(self.unused.values(), key=lambda item: item.line)
        named = first.filename or first.sha256
        return Failed(
            self.source,
            f"{len(self.unused)} of its labels name no image imported from this upload "
            f"(the first: {self.parsed.where(first.line)}, {short(named)})",
        )


class UploadLabels:
    def __init__(self, from_folders: bool) -> None:
        self.from_folders = from_folders
        self.tables: list[_Table] = []
        self.errors: list[Failed] = []
        self.split_folders = False

    @classmethod
    def read(
        cls, filename: str, file: BinaryIO, limits: ArchiveLimits, from_folders: bool
    ) -> UploadLabels:
        """The labels of one uploaded file; leaves ``file`` at its start."""
        labels = cls(from_folders)
        head = file.read(4)
        file.seek(0)
        if not is_zip(head):
            return labels
        try:
            for member in iter_sidecars(file, limits, MAX_BYTES):
                if member.name.lower() == "manifest.json":
                    # Only read for its layout; an unreadable one is no image either.
                    labels.split_folders = isinstance(member, Member) and _split_layout(member.data)
                elif not isinstance(member, Member):
                    labels.errors.append(Failed(member.name, member.error))
                else:
                    labels._add(member)
        finally:
            file.seek(0)
        return labels

    def _add(self, member: Member) -> None:
        try:
            parsed = parse(member.data)
        except InvalidInput as exc:
            self.errors.append(Failed(member.name, exc.detail))
            return
        limit_paths(parsed)
        self.errors += [Failed(member.name, parsed.shown(n, e)) for n, e in parsed.errors]
        self.tables.append(_Table(member.name, parsed))

    def label(self, name: str, sha256: str) -> LabelPath | None:
        """The category path of an imported file, or None to leave it unlabeled."""
        for table in self.tables:
            item = table.find(name, sha256)
            if item is not None:
                return item.path
        if not self.from_folders:
            return None
        path = folder_label(name)
        if path and self.split_folders and path[0] in _SPLITS:
            path = path[1:] or None
        return path

    def leftovers(self) -> list[Failed]:
        """Errors for labels that found no file; call once every file has been labeled."""
        return [f for table in self.tables if (f := table.leftovers()) is not None]


def _split_layout(data: bytes) -> bool:
    """Whether this manifest.json is one of our ImageFolder exports made with a split."""
    try:
        doc: Any = json.loads(data)
    except (ValueError, RecursionError):
        return False
    if not isinstance(doc, dict) or "curator_export" not in doc:
        return False
    split = doc.get("split")
    enabled = isinstance(split, dict) and split.get("enabled") is True
    return doc.get("format") == "imagefolder" and enabled
