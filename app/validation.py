"""Field types shared by API schemas and HTML forms, so both refuse the same input."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from app.names import refused_character

# C0/C1 control characters and NUL break logs and PostgreSQL text columns alike.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_OR_NEWLINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _no_control(value: str) -> str:
    if _CONTROL_OR_NEWLINE.search(value):
        raise ValueError("must not contain control characters or line breaks")
    return value


def _no_control_multiline(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


# The same rules as JSON-schema patterns, so the OpenAPI schema (and clients generated
# from it) know them; the validators above give the friendlier error message.
_NO_CONTROL = r"[^\x00-\x1f\x7f-\x9f]"
_PATTERN_ONE_LINE = f"^{_NO_CONTROL}*$"
# The invisible characters most often pasted or planted, for the documented patterns;
# _visible refuses the whole Unicode categories.
_INVISIBLE = r"\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
_VISIBLE = rf"[^\x00-\x1f\x7f-\x9f{_INVISIBLE}]"
_PATTERN_NAME = rf"^{_VISIBLE}*[^\s\x00-\x1f\x7f-\x9f{_INVISIBLE}]{_VISIBLE}*$"
_PATTERN_MULTILINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"


def _documented(pattern: str) -> Any:
    return Field(json_schema_extra={"pattern": pattern})


def _visible(value: str) -> str:
    """No invisible, bidi or formatting characters, no stray combining marks."""
    problem = refused_character(value)
    if problem is not None:
        raise ValueError(problem)
    return value


_USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$"
_USERNAME = re.compile(_USERNAME_PATTERN)


def _username_characters(value: str) -> str:
    _visible(value)
    if not _USERNAME.match(value):
        odd = next((c for c in value if not (c.isascii() and (c.isalnum() or c in "_.@-"))), "")
        found = f" (found U+{ord(odd):04X} {unicodedata.name(odd, '')})".rstrip() if odd else ""
        raise ValueError(
            "may hold only the letters A-Z and a-z, digits and _ . @ -, and must start "
            f"with a letter or digit{found}"
        )
    return value


Username = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_username_characters),
    _documented(_USERNAME_PATTERN),
]
Password = Annotated[
    str,
    StringConstraints(min_length=8, max_length=256),
    AfterValidator(_no_control),
    _documented(_PATTERN_ONE_LINE),
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_no_control),
    AfterValidator(_visible),
    _documented(_PATTERN_NAME),
]

# A category name becomes a folder name in exports and a segment of "a/b" paths.
_NOT_SEPARATOR = rf"[^/\\\x00-\x1f\x7f-\x9f{_INVISIBLE}]"
_PATTERN_CATEGORY = rf"^{_NOT_SEPARATOR}*[^/\\\s\x00-\x1f\x7f-\x9f{_INVISIBLE}]{_NOT_SEPARATOR}*$"


def _no_path_separators(value: str) -> str:
    if "/" in value or "\\" in value:
        raise ValueError("must not contain / or \\ (they separate levels in category paths)")
    if value in {".", ".."}:
        raise ValueError("cannot be . or ..")
    return value


CategoryName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_no_control),
    AfterValidator(_visible),
    AfterValidator(_no_path_separators),
    _documented(_PATTERN_CATEGORY),
]
Description = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=2000),
    AfterValidator(_no_control_multiline),
    _documented(_PATTERN_MULTILINE),
]

# Ids are 32-bit on PostgreSQL; a larger number in a URL is malformed, not merely unknown.
MAX_ID = 2**31 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
