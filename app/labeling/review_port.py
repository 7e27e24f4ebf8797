"""What labeling's review queues read from the insights, which sit above it: the
"label_issues" and "odd_pictures" pools (which images, in which order) and what the
screen shows beside each image.

Labeling must not import insights (one-way layers), so the composition root (app.api)
plugs ``app.insights.review_pools`` in here; the SQL on the insight tables stays there.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

ReviewQueue = Literal["label_issues", "odd_pictures"]


class ReviewPool(Protocol):
    @property
    def where(self) -> ColumnElement[bool]: ...  # a condition on ``Image``
    @property
    def order(self) -> ColumnElement[Any]: ...  # ascending: the most suspicious first


class ReviewDetail(Protocol):
    @property
    def run_id(self) -> int: ...
    @property
    def score(self) -> float: ...
    @property
    def flagged(self) -> bool: ...
    # Label issues only: the label the run saw and the class it believes in, with the
    # run's probability for that class when its prediction is still stored.
    @property
    def given_category_id(self) -> int | None: ...
    @property
    def suggested_category_id(self) -> int | None: ...
    @property
    def suggested_confidence(self) -> float | None: ...


class ReviewPools(Protocol):
    """The reads of ``app.insights.review_pools`` (the module itself satisfies this)."""

    def pool(self, session: Session, project_id: int, queue: ReviewQueue) -> ReviewPool | None:
        """None: no run of the project has scored this yet."""
        ...

    def detail(
        self, session: Session, project_id: int, queue: ReviewQueue, image_id: int
    ) -> ReviewDetail | None: ...


_pools: list[ReviewPools] = []


def install(pools: ReviewPools) -> None:
    """Plug the insights in (idempotent: the last call wins)."""
    _pools[:] = [pools]


def review_pools() -> ReviewPools:
    if not _pools:
        raise RuntimeError("the insights' review pools are not installed (import app.api)")
    return _pools[0]
