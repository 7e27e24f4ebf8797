"""Labels from a CSV: ``filename,category_path`` rows, or a CSV export's own labels.csv.

A CSV whose header names ``category_path`` and ``filename`` or ``sha256`` is read by
its header, whatever its other columns (an export writes ten): rows are matched on
``sha256`` when it is there, so files renamed by the export still find their image.
Without such a header, each row is ``filename,category_path``.
"""

from __future__ import annotations

import csv
import io

from app.errors import InvalidInput
from app.imports.label_items import (
    MAX_ITEMS,
    LabelItem,
    Parsed,
    decode_text,
    parse_sha256,
    split_path,
)

_TWO_COLUMNS = ["filename", "category_path"]


def _rows(data: bytes) -> list[tuple[int, list[str]]]:
    text = decode_text(data, "CSV")
    try:
        rows = list(enumerate(csv.reader(io.StringIO(text, newline="")), start=1))
    except csv.Error as exc:
        raise InvalidInput(f"The CSV cannot be read: {exc}.") from None
    if len(rows) > MAX_ITEMS:
        raise InvalidInput(f"The CSV has {len(rows):,} rows; at most {MAX_ITEMS:,} are allowed.")
    return rows


def parse_csv(data: bytes) -> Parsed:
    rows = _rows(data)
    header = [c.strip().lower() for c in rows[0][1]] if rows else []
    if header == _TWO_COLUMNS:
        return _two_columns(rows[1:])
    if "category_path" in header and ("sha256" in header or "filename" in header):
        return _by_header(header, rows[1:])
    return _two_columns(rows)


def _blank(row: list[str]) -> bool:
    return not any(cell.strip() for cell in row)


def _two_columns(rows: list[tuple[int, list[str]]]) -> Parsed:
    out = Parsed()
    for line, row in rows:
        if _blank(row):
            continue
        if len(row) != 2:
            out.errors.append(
                (line, f"expected 2 columns (filename,category_path), got {len(row)}")
            )
            continue
        path = split_path(row[1])
        if not path:
            out.errors.append((line, "the category path is empty"))
            continue
        out.items.append(LabelItem(line, row[0].strip(), None, path))
    return out


def _by_header(header: list[str], rows: list[tuple[int, list[str]]]) -> Parsed:
    def column(name: str) -> int | None:
        return header.index(name) if name in header else None

    at_path = header.index("category_path")  # the header was chosen for having it
    at_name, at_sha = column("filename"), column("sha256")
    at_status = column("status")
    out = Parsed()
    for line, row in rows:
        if _blank(row):
            continue
        if len(row) != len(header):
            out.errors.append(
                (line, f"expected {len(header)} columns, as in the header, got {len(row)}")
            )
            continue
        if at_status is not None and row[at_status].strip().lower() == "rejected":
            # An export never has these; a hand-made file may. A rejection is not a label.
            out.errors.append((line, "a rejected image: rejections are not applied as labels"))
            continue
        path = split_path(row[at_path])
        filename = row[at_name].strip() if at_name is not None else ""
        sha_text = row[at_sha].strip() if at_sha is not None else ""
        sha256 = parse_sha256(sha_text) if sha_text else None
        if sha_text and sha256 is None:
            out.errors.append((line, "the sha256 is not 64 hex digits"))
        elif not path:
            out.errors.append((line, "the category path is empty"))
        elif not filename and sha256 is None:
            out.errors.append((line, "the row has neither a filename nor a sha256"))
        else:
            out.items.append(LabelItem(line, filename or None, sha256, path))
    return out
