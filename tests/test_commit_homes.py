"""Commits happen in their few homes only (the rule is in app/training/jobs.py).

A request's session commits once, in app.db; a service that committed on its own would
split a request into halves that can fail apart. Jobs commit step by step, each step its
own unit of work, but only in a domain's ``jobs`` module and in ``workers/``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOMES = {
    "app/db.py": "the request session's one commit",
    "app/background/dispatch.py": "the outbox dispatcher, a thread that serves no request",
    "app/imports/folder_import.py": "`curator import`: a command's rows, one group at a time",
}


def _is_home(path: str) -> bool:
    return path in HOMES or path.endswith("/jobs.py") or path.startswith("workers/")


def commits(source: str) -> list[int]:
    """The lines that call ``<something>.commit()``."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "commit"
    ]


def test_commits_only_in_their_homes() -> None:
    found = {}
    for folder in ("app", "workers"):
        for file in sorted((ROOT / folder).rglob("*.py")):
            path = file.relative_to(ROOT).as_posix()
            lines = commits(file.read_text())
            if lines and not _is_home(path):
                found[path] = lines
    assert not found, f"commits outside a request, a jobs module or workers/: {found}"


def test_the_check_sees_a_commit() -> None:
    assert commits("def f(session):\n    x = 1\n    session.commit()\n") == [3]
    assert commits("def f(session):\n    session.flush()\n") == []


def test_every_named_home_still_commits() -> None:
    # A home that no longer commits is dropped from the list, so it cannot hide a new one.
    for path in HOMES:
        assert commits((ROOT / path).read_text()), f"{path} no longer commits; drop it"
