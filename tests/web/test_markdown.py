"""Guidelines are markdown; whatever HTML someone types is shown as text."""

from __future__ import annotations

from app.web.markdown import render_markdown


def test_markdown_formats_text() -> None:
    html = render_markdown("**Stems** count.\n\n- one\n- two")
    assert "<strong>Stems</strong>" in html
    assert "<li>one</li>" in html


def test_raw_html_and_script_links_are_neutralised() -> None:
    html = render_markdown(
        '<script>alert(1)</script> <img src=x onerror="x()">\n\n[x](javascript:alert(1))'
    )
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<img" not in html
    assert 'href="javascript:' not in html
