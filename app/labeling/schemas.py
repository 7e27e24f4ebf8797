"""The labeling API's bodies and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.labeling.models import AnnotationSource, QueueMode
from app.validation import Id

Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
# The order a queue serves its images in (the API calls it `strategy`); not to be confused
# with the active-learning strategies (projects.choices.StrategyName) that rank them.
QueueOrder = Literal["active", "random", "sequential"]
MAX_BULK = 500


class Decision(BaseModel):
    """A label or a rejection: exactly one of them."""

    model_config = ConfigDict(extra="forbid")

    category_id: Id | None = None
    rejected: bool = False
    reason: Reason | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Decision:
        if (self.category_id is not None) == self.rejected:
            raise ValueError('Send either "category_id" or "rejected": true, not both nor neither.')
        if self.reason is not None and not self.rejected:
            raise ValueError('A "reason" goes only with "rejected": true.')
        return self


class BulkDecision(Decision):
    image_ids: Annotated[list[Id], Field(min_length=1, max_length=MAX_BULK)]


class Release(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_ids: Annotated[list[Id], Field(max_length=MAX_BULK)]


class AnnotationOut(BaseModel):
    id: int
    image_id: int
    user_id: int | None
    username: str | None
    category_id: int | None
    rejected: bool
    reason: str | None
    source: AnnotationSource
    # An overlap's second, independent label: kept and compared, never the label itself.
    second_opinion: bool
    undoes_id: int | None
    created_at: datetime


class BulkOut(BaseModel):
    created: int
    annotations: list[AnnotationOut]


class Disagreement(BaseModel):
    """The two labels a disputed image got; the image still carries the first."""

    first: AnnotationOut
    second: AnnotationOut


class Suggestion(BaseModel):
    category_id: int
    confidence: float


class ReviewInfo(BaseModel):
    """In the label-issues and odd-pictures queues: what the scoring run says."""

    run_id: int
    score: float  # 0..1; higher: more likely mislabeled, or more atypical
    flagged: bool  # the product's own call
    # The image's label now; A keeps it (the given label may be its family, when the
    # run trained at a taxonomy level).
    current_category_id: int | None = None
    # Label issues: the label the run saw (the image's label) and the class it suggests.
    given_category_id: int | None = None
    suggested_category_id: int | None = None


class QueueItem(BaseModel):
    image_id: int
    file_url: str
    thumbnail_url: str
    display_url: str
    filename: str
    width: int
    height: int
    suggestion: Suggestion | None = None
    # The active-learning strategy whose ranking served this image; None: sequential.
    ranking: str | None = None
    # What ranks the queue, worded as on every page ("margin · run #5"); the screen shows
    # it while the queue follows a ranking (strategy "active").
    ranking_text: str | None = None
    lease_expires_at: datetime
    mode: QueueMode
    strategy: QueueOrder
    remaining: int
    # In the disagreements queue: what the two labelers said.
    disagreement: Disagreement | None = None
    review: ReviewInfo | None = None


class UserCounter(BaseModel):
    user_id: int
    username: str
    today: int
    week: int
    per_hour: float


class Counters(BaseModel):
    users: list[UserCounter]


class KeepOne(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_id: Id


class KeepResult(BaseModel):
    kept: int
    rejected: int


class BulkUndo(BaseModel):
    """Which bulk action to undo: the Idempotency-Key it was sent with."""

    model_config = ConfigDict(extra="forbid")

    idempotency_key: Annotated[str, Field(min_length=1, max_length=200)]
