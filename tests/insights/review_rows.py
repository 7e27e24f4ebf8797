"""Insight rows written directly, as a run's insights phase would leave them, and the
project the review-queue tests share: a manager's, with a labeler and images."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import Role
from app.insights.models import LabelIssue, OutlierScore
from tests.conftest import ClientFor, UserFactory
from tests.labeling.helpers import Setup, arrange, join
from tests.training.prediction_rows import write_run

Issue = tuple[int, int, int, float, bool]  # image, given, suggested, score, flagged


def write_issues(db: Session, pid: int, run_id: int, rows: list[Issue]) -> None:
    """Label issues of the run, ranked in the order given (most likely wrong first)."""
    for rank, (image_id, given, suggested, score, flagged) in enumerate(rows):
        db.add(
            LabelIssue(
                run_id=run_id,
                image_id=image_id,
                project_id=pid,
                given_category_id=given,
                suggested_category_id=suggested,
                score=score,
                flagged=flagged,
                rank=rank,
            )
        )
    db.commit()


def write_outliers(db: Session, pid: int, run_id: int, rows: list[tuple[int, float]]) -> None:
    """Outlier scores of the run, ranked in the order given; the top half flagged."""
    for rank, (image_id, score) in enumerate(rows):
        db.add(
            OutlierScore(
                run_id=run_id,
                image_id=image_id,
                project_id=pid,
                score=score,
                flagged=rank < len(rows) // 2,
                rank=rank,
            )
        )
    db.commit()


def empty_run(db: Session, pid: int, classes: list[tuple[int, str]]) -> int:
    """A succeeded run with no predictions (its insights are written by the test)."""
    return write_run(db, pid, classes, {})


@dataclass
class Crew:
    s: Setup
    boss: TestClient  # the project's manager (a global manager who made it)
    worker: TestClient  # a labeler of the project
    stranger: TestClient  # a manager of nothing here

    @property
    def wine(self) -> int:
        return self.s.categories["wine"]

    @property
    def beer(self) -> int:
        return self.s.categories["beer"]


def crew(api_as: ClientFor, make_user: UserFactory, images: int) -> Crew:
    boss = api_as(make_user(Role.manager))
    s = arrange(boss, images=images)
    worker = make_user(Role.labeler)
    join(boss, s.pid, worker.username, "labeler")
    return Crew(s, boss, api_as(worker), api_as(make_user(Role.manager)))
