"""Names inside an export: zip paths that cannot escape, and a safe download name.

Category names are already free of "/", "\\", control characters, "." and "..". What
is left are names that importers (ours included, see app.imports.archive) refuse or
that some systems misread as special: only dots and spaces ("...", which Windows trims
to nothing) or a leading drive ("C:"). Those get a "_" in front, so a round trip keeps
every other name exactly. Image basenames come from users' files and are cleaned harder.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_DRIVE = re.compile(r"^[A-Za-z]:")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_JUNK = frozenset({".ds_store", "thumbs.db"})
_ARCHIVES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar")
_EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "webp": ".webp", "gif": ".gif",
               "bmp": ".bmp", "tiff": ".tif"}  # fmt: skip
_MAX_BASENAME = 150


def slug(name: str, fallback: str) -> str:
    """ASCII letters, digits and dashes: safe in a Content-Disposition and on any disk."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:80].strip("-")
    return text or fallback


def segment(name: str) -> str:
    """A category name as a folder name: unchanged unless a reader would refuse it."""
    clean = _UNPRINTABLE.sub("_", name).replace("/", "_").replace("\\", "_")
    if not clean.strip(". ") or _DRIVE.match(clean):
        return f"_{clean}"
    return clean


def folder(path: list[str]) -> str:
    return "/".join(segment(name) for name in path)


def extension(image_format: str) -> str:
    return _EXTENSIONS.get(image_format, f".{image_format}")


def basename(filename: str, image_id: int, image_format: str) -> str:
    """The file's own name, without its folders, made safe; image-<id> when nothing is left."""
    base = _UNPRINTABLE.sub("_", filename.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    lower = base.lower()
    if (
        not base.strip(". ")
        or base.startswith(".")
        or _DRIVE.match(base)
        or lower in _JUNK
        or lower.endswith(_ARCHIVES)
    ):
        base = f"image-{image_id}"
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem or not ext.isalnum():
        stem, ext = base, extension(image_format).lstrip(".")
    return f"{stem[: _MAX_BASENAME - len(ext) - 1].rstrip(' .')}.{ext}"


class UniqueNames:
    """Hands out each zip path once (compared case-folded, as macOS and Windows do).

    Remembers an 8-byte digest per path rather than the path, to keep memory small.
    The first image to claim a name keeps it; later ones become ``<stem>-<image id>``.
    """

    def __init__(self) -> None:
        self._seen: set[bytes] = set()

    def _claim(self, path: str) -> bool:
        digest = hashlib.blake2b(path.casefold().encode(), digest_size=8).digest()
        if digest in self._seen:
            return False
        self._seen.add(digest)
        return True

    def claim(self, folder_path: str, name: str, image_id: int) -> str:
        prefix = f"{folder_path}/" if folder_path else ""
        stem, _, ext = name.rpartition(".")
        if self._claim(prefix + name):
            return prefix + name
        for n in range(1, 1000):
            suffix = f"-{image_id}" if n == 1 else f"-{image_id}-{n}"
            if self._claim(f"{prefix}{stem}{suffix}.{ext}"):
                return f"{prefix}{stem}{suffix}.{ext}"
        raise RuntimeError(f"no free name for image {image_id} in {folder_path!r}")
