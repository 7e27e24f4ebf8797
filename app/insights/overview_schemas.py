"""The answer of ``GET /api/v1/projects/{pid}/stats``: the figures behind the overview."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Progress(BaseModel):
    total: int
    labeled: int
    unlabeled: int
    rejected: int
    per_hour: float | None = Field(
        description="Decisions per hour over the last 24 hours (from the first of them to "
        "now, at least one hour); null when nobody labeled in that time."
    )
    hours_left: float | None = Field(
        description="Unlabeled images divided by per_hour: at this pace, done in about "
        "this many hours; null without a pace."
    )


class ClassBalance(BaseModel):
    category_id: int
    name: str
    path: str
    parent_id: int | None
    depth: int = Field(description="1 for a top-level category.")
    own: int = Field(description="Images labeled with this category itself.")
    total: int = Field(description="Images labeled with it or any category under it.")
    f1: float | None = Field(description="The newest model's F1 on this class, if it had one.")
    needs_labels: bool = Field(description="Under 10 labels (sub-tree) or F1 under 0.7.")


class AnnotatorDays(BaseModel):
    user_id: int
    username: str
    counts: list[int] = Field(description="Decisions per day, in the order of ``days``.")


class PerDay(BaseModel):
    days: list[str] = Field(description="The last 14 days (UTC), oldest first, as YYYY-MM-DD.")
    annotators: list[AnnotatorDays]


class RunPoint(BaseModel):
    run_id: int
    labels: int
    accuracy: float
    macro_f1: float


class Quality(BaseModel):
    label_issues: int = Field(description="Images the newest scored run flags as mislabeled.")
    odd_pictures: int = Field(description="Images the newest scored run flags as atypical.")
    disagreements: int = Field(description="Images waiting for a manager to settle two labels.")
    duplicate_groups: int = Field(description="Groups of near-duplicate images.")


class Ranking(BaseModel):
    strategy: str = Field(description="The project's active-learning strategy.")
    concrete: str | None = Field(description="What it ran as (e.g. typiclust for default).")
    run_id: int | None = Field(description="The run whose model ranked the queue.")
    text: str = Field(description="The one wording every page uses.")


class ModelSummary(BaseModel):
    run_id: int
    label_count: int | None
    accuracy: float | None
    macro_f1: float | None
    previous_run_id: int | None
    accuracy_change: float | None
    macro_f1_change: float | None


class ProjectStats(BaseModel):
    progress: Progress
    classes: list[ClassBalance] = Field(description="Depth first: parents before children.")
    per_day: PerDay
    runs: list[RunPoint] = Field(description="The learning curve, fewest labels first.")
    quality: Quality
    model: ModelSummary | None
    queue: Ranking
