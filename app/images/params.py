"""Query and form fields of the image pages, parsed with a clear error for each."""

from __future__ import annotations

from app.web.forms import FormError

# Offsets past this are never useful to a person and would make the database scan.
MAX_PAGE = 100_000


def parse_page(raw: str) -> int:
    raw = raw.strip() or "1"
    if not raw.isdecimal() or not 1 <= int(raw) <= MAX_PAGE:
        raise FormError(f"Page: {raw[:40]!r} is not a page number (1 to {MAX_PAGE}).")
    return int(raw)


def parse_percent(field: str, raw: str) -> int | None:
    """A blank field means "any"; anything else a whole number from 0 to 100."""
    raw = raw.strip().removesuffix("%").strip()
    if not raw:
        return None
    if not raw.isdecimal() or int(raw) > 100:
        raise FormError(f"{field}: {raw[:40]!r} is not a percentage (a whole number, 0 to 100).")
    return int(raw)


def parse_flag(raw: str) -> bool:
    return raw.strip().lower() in ("1", "true", "on", "yes")
