"""Markdown for guidelines, rendered safely: raw HTML is shown as text, not run."""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt
from markupsafe import Markup


@lru_cache
def _parser() -> MarkdownIt:
    # "html": False escapes any raw HTML; markdown-it also refuses javascript: links.
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(text: str) -> Markup:
    return Markup(_parser().render(text))  # noqa: S704 - escaped by the parser above
