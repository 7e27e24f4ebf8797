"""The outbox tables: each domain registers its own (runs, imports) when imported."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement


@dataclass(frozen=True)
class Box:
    """One outbox table: its rows, the task that runs one, its queue."""

    model: type[Any]  # a model with JobColumns, ``id``, ``status`` and ``task_id``
    task: str
    queue: str
    waiting: Callable[[], ColumnElement[bool]]  # rows that wait for a worker to claim them


_registered: dict[str, Box] = {}


def register(box: Box) -> Box:
    _registered[box.task] = box
    return box


def registered() -> list[Box]:
    return list(_registered.values())
