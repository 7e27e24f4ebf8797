"""Labels from a COCO json used for classification: one category per image.

Reads ``images`` (``id``, ``file_name``, and ``sha256`` where our export wrote it),
``categories`` (``id`` and ``name``, with our export's ``path`` or a ``supercategory``)
and ``annotations`` (``image_id``, ``category_id``; boxes and other keys are ignored).
Each entry is checked on its own: a bad one is an error with its position, and the
good ones still label their images.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.errors import InvalidInput
from app.imports.label_items import (
    MAX_ITEMS,
    LabelItem,
    LabelPath,
    Parsed,
    decode_text,
    parse_sha256,
    short,
    split_path,
)

Key = int | str  # a COCO id: an integer, or a string in some tools' files
_LISTS = ("images", "annotations", "categories")
# What some tools write when a category has no group; not a category of its own.
_NO_GROUP = frozenset({"", "none", "null"})


@dataclass(frozen=True)
class _Image:
    position: int
    filename: str | None
    sha256: str | None


def looks_like_json(data: bytes) -> bool:
    """An object, or an array that parses: a CSV's first file name may start with "["."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head != b"[":
        return head == b"{"
    try:
        json.loads(data)
    except (ValueError, RecursionError):
        return False
    return True


def load(data: bytes) -> dict[str, list[Any]]:
    """The three lists of a COCO file, or InvalidInput for a file that is not one."""
    text = decode_text(data, "COCO file")
    try:
        doc = json.loads(text)
    except RecursionError:
        raise InvalidInput("The COCO file is nested too deeply to read.") from None
    except ValueError as exc:  # json.JSONDecodeError, or a number too long to convert
        raise InvalidInput(f"The COCO file is not valid JSON: {exc}.") from None
    if not isinstance(doc, dict):
        raise InvalidInput("The COCO file must be a JSON object with images and annotations.")
    for key in _LISTS:
        if not isinstance(doc.get(key), list):
            raise InvalidInput(f"The COCO file has no {key!r} list.")
        if len(doc[key]) > MAX_ITEMS:
            raise InvalidInput(
                f"The COCO file has {len(doc[key]):,} {key}; at most {MAX_ITEMS:,} are allowed."
            )
    return {key: doc[key] for key in _LISTS}


def parse_coco(data: bytes) -> Parsed:
    doc = load(data)
    out = Parsed(located=True)
    categories = _categories(doc["categories"], out)
    images = _images(doc["images"], out)
    # image id -> the image and its categories, in order of appearance
    given: dict[Key, tuple[_Image, dict[LabelPath, None]]] = {}
    for n, note in enumerate(doc["annotations"], start=1):
        found = _annotation(note, images, categories)
        if isinstance(found, str):
            out.errors.append((n, f"annotation #{n}: {found}"))
        else:
            image_id, image, path = found
            given.setdefault(image_id, (image, {}))[1][path] = None
    for image, paths in given.values():
        if len(paths) > 1:
            shown = ", ".join("/".join(p) for p in list(paths)[:3])
            out.errors.append(
                (image.position, f"image #{image.position}: its annotations give "
                 f"{len(paths)} different categories ({short(shown)})")
            )  # fmt: skip
            continue
        out.items.append(LabelItem(image.position, image.filename, image.sha256, next(iter(paths))))
    out.items.sort(key=lambda item: item.line)
    return out


def _key(value: Any) -> Key | None:
    # bool is an int to Python, never an id to a person.
    return value if isinstance(value, (int, str)) and not isinstance(value, bool) else None


def _categories(entries: list[Any], out: Parsed) -> dict[Key, LabelPath | str]:
    """Category id -> its path, or why the category cannot be used."""
    found: dict[Key, LabelPath | str] = {}
    for n, entry in enumerate(entries, start=1):
        key = _key(entry.get("id")) if isinstance(entry, dict) else None
        if key is None:
            out.errors.append((n, f"category #{n}: not an object with an integer 'id'"))
            continue
        if key in found:
            found[key] = f"category id {short(key)} is listed twice"
            out.errors.append((n, f"category #{n}: its id {short(key)} is listed twice"))
            continue
        found[key] = _category_path(entry)
    return found


def _category_path(entry: dict[str, Any]) -> LabelPath | str:
    path, name, group = entry.get("path"), entry.get("name"), entry.get("supercategory")
    if path is not None:  # written by our export: the whole path, root first
        if not isinstance(path, str) or not split_path(path):
            return "its 'path' is not a category path"
        return split_path(path)
    if not isinstance(name, str) or not name.strip():
        return "it has no 'name'"
    grouped = isinstance(group, str) and group.strip().lower() not in _NO_GROUP
    if grouped and str(group).strip().casefold() != name.strip().casefold():
        return (str(group).strip(), name.strip())
    return (name.strip(),)


def _images(entries: list[Any], out: Parsed) -> dict[Key, _Image | str]:
    """Image id -> where and what it is, or why it cannot be labeled."""
    found: dict[Key, _Image | str] = {}
    for n, entry in enumerate(entries, start=1):
        key = _key(entry.get("id")) if isinstance(entry, dict) else None
        if key is None:
            out.errors.append((n, f"image #{n}: not an object with an integer 'id'"))
            continue
        if key in found:
            found[key] = f"image id {short(key)} is listed twice"
            out.errors.append((n, f"image #{n}: its id {short(key)} is listed twice"))
            continue
        found[key] = _image(n, entry)
    return found


def _image(position: int, entry: dict[str, Any]) -> _Image | str:
    name, sha = entry.get("file_name"), entry.get("sha256")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        return f"image #{position}: its 'file_name' is not a file name"
    sha256 = None
    if sha is not None:
        sha256 = parse_sha256(sha) if isinstance(sha, str) else None
        if sha256 is None:
            return f"image #{position}: its 'sha256' is not 64 hex digits"
    if name is None and sha256 is None:
        return f"image #{position}: it has neither a 'file_name' nor a 'sha256'"
    return _Image(position, name.strip() if name else None, sha256)


def _annotation(
    note: Any, images: dict[Key, _Image | str], categories: dict[Key, LabelPath | str]
) -> tuple[Key, _Image, LabelPath] | str:
    """(image id, image, category path) of one annotation, or why it labels nothing."""
    if not isinstance(note, dict):
        return "not an object"
    image_id, category_id = _key(note.get("image_id")), _key(note.get("category_id"))
    if image_id is None:
        return "its 'image_id' is missing or not an integer"
    if category_id is None:
        return "its 'category_id' is missing or not an integer"
    image = images.get(image_id)
    if image is None:
        return f"image_id {short(image_id)} is not in 'images'"
    if isinstance(image, str):
        return image
    path = categories.get(category_id)
    if path is None:
        return f"category_id {short(category_id)} is not in 'categories'"
    if isinstance(path, str):
        return f"category {short(category_id)}: {path}"
    return image_id, image, path
