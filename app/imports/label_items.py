"""What a labels file says, whatever its format: one category path per image.

Pure: no database. A CSV (``labels_table``) or a COCO json (``labels_coco``) is parsed
into `LabelItem`s plus per-item errors, so that the same matching serves the labels
endpoint (images already in the project) and an upload (images in the same zip).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from app.errors import InvalidInput

LabelPath = tuple[str, ...]
MAX_BYTES = 64 * 2**20
MAX_ITEMS = 1_000_000
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SHOWN = 120  # characters of a user's value quoted back in an error


@dataclass(frozen=True)
class LabelItem:
    """One image's label: matched by content when ``sha256`` is known, else by name."""

    line: int  # the CSV line, or the image's position in a COCO file's "images"
    filename: str | None
    sha256: str | None
    path: LabelPath


@dataclass
class Parsed:
    items: list[LabelItem] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line or position, reason)
    # A COCO file's reasons name their entry ("annotation #3: ..."): its positions are not
    # lines, and count in three different lists.
    located: bool = False

    def where(self, line: int) -> str:
        return f"image #{line}" if self.located else f"line {line}"

    def about(self, item: LabelItem, reason: str) -> str:
        """A reason concerning one item, as ``errors`` holds it."""
        return f"{self.where(item.line)}: {reason}" if self.located else reason

    def shown(self, line: int, reason: str) -> str:
        """An error as one sentence, for a list that has no line numbers of its own."""
        return reason if self.located else f"{self.where(line)}: {reason}"


def decode_text(data: bytes, kind: str) -> str:
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"The {kind} is over the {MAX_BYTES // 2**20} MiB limit.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"The {kind} is not UTF-8 text.") from None


def split_path(text: str) -> LabelPath:
    """``Asteraceae/daisy`` as names, root first; empty segments are dropped."""
    return tuple(p.strip() for p in text.split("/") if p.strip())


def parse_sha256(value: str) -> str | None:
    """The sha256 in lower-case hex, or None when ``value`` is not one."""
    value = value.strip().lower()
    return value if _SHA256.fullmatch(value) else None


def short(value: object) -> str:
    """A user's value quoted for an error message, cut so a hostile one stays readable."""
    text = repr(value)
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 3]}..."


def basename(filename: str) -> str:
    return filename.replace("\\", "/").rsplit("/", 1)[-1]


class Lookup:
    """Find images by content, full name, or a base name only one of them has."""

    def __init__(self) -> None:
        self.by_sha: dict[str, int] = {}
        self.by_name: dict[str, list[int]] = defaultdict(list)
        self.by_base: dict[str, list[int]] = defaultdict(list)

    def add(self, key: int, filename: str, sha256: str) -> None:
        self.by_sha.setdefault(sha256, key)
        self.by_name[filename].append(key)
        self.by_base[basename(filename)].append(key)

    def find(self, item: LabelItem, where: str) -> int | str:
        """The key of the item's image, or why there is none (``where``: "this project")."""
        if item.sha256 is not None:
            # The content is what was labeled: another file with the same name is not it.
            found = self.by_sha.get(item.sha256)
            if found is not None:
                return found
            named = f"{short(item.filename)} " if item.filename else ""
            return f"no image {named}with sha256 {item.sha256[:12]}... in {where}"
        name = item.filename or ""
        matches = self.by_name.get(name) or self.by_base.get(basename(name), [])
        if not matches:
            return f"no image named {short(name)} in {where}"
        if len(matches) > 1:
            return f"{len(matches)} images are named {short(name)}; use the full path"
        return matches[0]
