"""A hand-built project for the overview: a two-family taxonomy, labels by two people
on two days, two runs with metrics, and rows in each quality queue.

    flower > daisy (12 labels, F1 0.95), rose (2 labels, F1 0.9)
    flower itself: 1 label
    tree   > oak (10 labels, F1 0.6)
    1 rejected, 4 unlabeled; 30 images in all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.images.models import Image
from app.insights.models import LabelIssue, OutlierScore
from app.labeling.models import Annotation, Overlap, OverlapState
from app.training.models import RunMode, RunStatus, Scoring, TrainingRun
from tests.labeling.helpers import join, label
from tests.training.prediction_rows import Forest, forest, reject


@dataclass
class World:
    forest: Forest
    older_run: int
    newest_run: int

    @property
    def pid(self) -> int:
        return self.forest.pid


def _run(
    db: Session,
    pid: int,
    f: Forest,
    *,
    labels: int,
    acc: float,
    f1s: dict[str, float],
    age_hours: int,
) -> int:
    per_class = {
        name: {"precision": f1, "recall": f1, "f1": f1, "support": 3} for name, f1 in f1s.items()
    }
    run = TrainingRun(
        project_id=pid,
        mode=RunMode.linear,
        backbone="efficientnet_lite0",
        status=RunStatus.succeeded,
        classes=[[f[name], name] for name in f1s],
        metrics={
            "accuracy": acc,
            "macro_f1": sum(f1s.values()) / len(f1s),
            "per_class": per_class,
            "labels": list(f1s),
        },
        label_count=labels,
        finished_at=utcnow() - timedelta(hours=age_hours),
    )
    db.add(run)
    db.flush()
    return run.id


def build(db: Session, manager_api: TestClient, labeler_api: TestClient, labeler: str) -> World:
    f = forest(manager_api, 30, name="Overview")
    join(manager_api, f.pid, labeler)
    ids = f.ids
    lena = [label(labeler_api, i, f["daisy"])["id"] for i in ids[0:12]]
    lena += [label(labeler_api, i, f["rose"])["id"] for i in ids[12:14]]
    for i in ids[14:24]:
        label(manager_api, i, f["oak"])
    label(manager_api, ids[24], f["flower"])
    reject(manager_api, ids[25])
    # Two of the labeler's labels were made three days ago.
    db.execute(
        update(Annotation)
        .where(Annotation.id.in_(lena[:2]))
        .values(created_at=utcnow() - timedelta(days=3))
    )
    older = _run(
        db, f.pid, f, labels=6, acc=0.8, f1s={"daisy": 0.7, "rose": 0.7, "oak": 0.7}, age_hours=5
    )
    newest = _run(
        db, f.pid, f, labels=24, acc=0.9, f1s={"daisy": 0.95, "rose": 0.9, "oak": 0.6}, age_hours=1
    )
    # Label issues: the older run flagged 5, the newest 2 of 3 (the newest counts).
    for n, image_id in enumerate(ids[0:5]):
        db.add(
            LabelIssue(
                run_id=older,
                image_id=image_id,
                project_id=f.pid,
                given_category_id=f["daisy"],
                suggested_category_id=f["rose"],
                score=0.9,
                flagged=True,
                rank=n,
            )
        )
    for n, image_id in enumerate(ids[0:3]):
        db.add(
            LabelIssue(
                run_id=newest,
                image_id=image_id,
                project_id=f.pid,
                given_category_id=f["daisy"],
                suggested_category_id=f["rose"],
                score=0.9 - n / 10,
                flagged=n < 2,
                rank=n,
            )
        )
    db.add(
        OutlierScore(
            run_id=newest, image_id=ids[29], project_id=f.pid, score=0.99, flagged=True, rank=0
        )
    )
    db.add(
        OutlierScore(
            run_id=newest, image_id=ids[28], project_id=f.pid, score=0.1, flagged=False, rank=1
        )
    )
    db.add(Overlap(image_id=ids[3], project_id=f.pid, state=OverlapState.disagreed))
    db.add(Overlap(image_id=ids[4], project_id=f.pid, state=OverlapState.agreed))
    for first, second in ((ids[26], ids[27]), (ids[28], ids[29])):
        db.execute(update(Image).where(Image.id.in_([first, second])).values(dup_group_id=first))
    db.add(
        Scoring(
            project_id=f.pid,
            strategy="default",
            concrete="typiclust",
            run_id=newest,
            pool_size=4,
            seconds=0.1,
        )
    )
    db.commit()
    assert db.scalar(select(Image.id).where(Image.id == ids[0])) is not None
    return World(f, older, newest)
