"""Enumerate an app's routes, including those of included routers."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _walk(routes: list[Any]) -> list[Any]:
    found = []
    for route in routes:
        # FastAPI includes routers lazily; their routes sit behind effective_candidates().
        if hasattr(route, "effective_candidates"):
            found.extend(_walk(route.effective_candidates()))
        else:
            found.append(route)
    return found


def all_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app answers, HEAD left out."""
    pairs = set()
    for route in _walk(list(app.routes)):
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                pairs.add((method, route.path))
    return sorted(pairs, key=lambda p: (p[1], p[0]))


def fill(path: str, value: int = 1) -> str:
    return re.sub(r"\{[^}]+\}", str(value), path)
