"""Statements built once and run many times with new parameters.

SQLAlchemy caches each statement's compiled SQL, but finds it by a cache key that it
works out again for every statement object it is handed: on the labeling hot path
that walk (every bound parameter, every column type) cost more Python than the rest of
the call. A statement built once, with ``bindparam`` placeholders, keeps its key: the
hot path's statements live here, one per shape (dialect, mode, ...), and each call
passes only its values.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

_built: dict[Hashable, object] = {}
_lock = threading.Lock()


def prepared(key: Hashable, build: Callable[..., T], *shape: Any) -> T:
    """The statement for ``key``, built by ``build(*shape)`` the first time it is asked
    for. ``key`` must name everything the statement depends on (``shape`` included):
    every value goes in as a parameter when it runs."""
    found = _built.get(key)
    if found is None:
        with _lock:
            found = _built.setdefault(key, build(*shape))
    return found  # type: ignore[return-value]
