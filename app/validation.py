"""Field types shared by API schemas and HTML forms, so both refuse the same input."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

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
_PATTERN_NOT_BLANK = rf"^{_NO_CONTROL}*[^\s\x00-\x1f\x7f-\x9f]{_NO_CONTROL}*$"
_PATTERN_MULTILINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"


def _documented(pattern: str) -> Any:
    return Field(json_schema_extra={"pattern": pattern})


Username = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$"
    ),
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
    _documented(_PATTERN_NOT_BLANK),
]

# A category name becomes a folder name in exports and a segment of "a/b" paths.
_NOT_SEPARATOR = r"[^/\\\x00-\x1f\x7f-\x9f]"
_PATTERN_CATEGORY = rf"^{_NOT_SEPARATOR}*[^/\\\s\x00-\x1f\x7f-\x9f]{_NOT_SEPARATOR}*$"


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
