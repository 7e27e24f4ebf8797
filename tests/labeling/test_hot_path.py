"""The labeling hot path's work per decision does not grow with the labels.

Issue 15: server CPU per decision rose from 13 to 32 ms as a project got labeled. The
cause was auto-train: in a one-class project every attempt is refused, and each one
read every label to find that out. These tests count what the database is asked to do
for a run of decisions (statements, and SQLite's virtual-machine steps, which grow with
the rows a statement reads) at 0% and at 90% labeled: work, not time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.db import utcnow
from app.images.models import Image, ImageStatus
from app.labeling.models import Annotation, AnnotationSource
from app.training.models import TrainingRun
from tests.conftest import ClientFor
from tests.images.helpers import new_project
from tests.labeling.helpers import label, next_image

IMAGES = 400
EVERY = 5  # auto-train attempts: one every 5 labels, each refused (one class)
WINDOW = 2 * EVERY  # decisions per measurement: whole periods of the trigger
STEP = 100  # SQLite calls the progress handler every STEP virtual-machine instructions


@dataclass
class Work:
    statements: int = 0
    vm_steps: int = 0


@contextmanager
def counting(app: FastAPI) -> Iterator[Work]:
    """What the app's engine runs meanwhile: statements, and SQLite VM steps."""
    engine = app.state.engine
    work = Work()

    def tick() -> int:
        work.vm_steps += STEP
        return 0  # go on

    def on_execute(*_: Any) -> None:
        work.statements += 1

    def on_checkout(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.set_progress_handler(tick, STEP)

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "checkout", on_checkout)
    try:
        yield work
    finally:
        event.remove(engine, "checkout", on_checkout)
        event.remove(engine, "before_cursor_execute", on_execute)


def _project(api: TestClient, db: Session) -> tuple[int, int]:
    pid = new_project(api, "Fill")
    resp = api.post(f"/api/v1/projects/{pid}/categories", json={"name": "only", "parent_id": None})
    assert resp.status_code == 201, resp.text
    assert api.patch(f"/api/v1/projects/{pid}", json={"auto_train_every": EVERY}).is_success
    now = utcnow()
    rows = [
        {"project_id": pid, "sha256": hashlib.sha256(f"fill{i}".encode()).hexdigest(),
         "filename": f"f/{i:04d}.jpg", "format": "jpeg", "width": 8, "height": 8,
         "orientation": 1, "size_bytes": 100, "phash": f"{i:016x}",
         "thumbnail_mime": "image/jpeg", "status": ImageStatus.unlabeled,
         "dup_checked": True, "created_at": now}
        for i in range(IMAGES)
    ]  # fmt: skip
    db.execute(insert(Image), rows)
    db.commit()
    return pid, int(resp.json()["id"])


def _decide(api: TestClient, pid: int, cid: int, n: int) -> None:
    for _ in range(n):
        image_id = next_image(api, pid)
        assert image_id is not None
        label(api, image_id, cid)


def _label_directly(db: Session, pid: int, cid: int, user_id: int, upto: int) -> None:
    """Label images in the database (the trigger sets their labels), as a team would
    have through the API, until ``upto`` are labeled."""
    ids = db.scalars(
        select(Image.id)
        .where(Image.project_id == pid, Image.status == ImageStatus.unlabeled)
        .order_by(Image.id.desc())
        .limit(upto - _labeled(db, pid))
    ).all()
    rows = [
        {"project_id": pid, "image_id": i, "user_id": user_id, "category_id": cid,
         "rejected": False, "source": AnnotationSource.manual, "second_opinion": False,
         "created_at": utcnow()}
        for i in ids
    ]  # fmt: skip
    db.execute(insert(Annotation), rows)
    db.commit()


def _labeled(db: Session, pid: int) -> int:
    db.expire_all()
    query = select(Image.id).where(Image.project_id == pid, Image.status == ImageStatus.labeled)
    return len(db.scalars(query).all())


def _window(app: FastAPI, api: TestClient, pid: int, cid: int) -> list[Work]:
    """The work of each of WINDOW decisions: whole periods of the trigger."""
    work = []
    for _ in range(WINDOW):
        with counting(app) as one:
            _decide(api, pid, cid, 1)
        work.append(one)
    return work


def test_work_per_decision_is_flat_from_empty_to_90_percent_labeled(
    app: FastAPI, api_as: ClientFor, admin: User, db: Session
) -> None:
    api = api_as(admin)
    pid, cid = _project(api, db)
    _decide(api, pid, cid, EVERY)  # the trigger's first period, from a fresh project
    empty = _window(app, api, pid, cid)
    _label_directly(db, pid, cid, admin.id, IMAGES * 9 // 10)
    assert _labeled(db, pid) == IMAGES * 9 // 10
    full = _window(app, api, pid, cid)

    assert _labeled(db, pid) == IMAGES * 9 // 10 + WINDOW
    # Every attempt was refused (one class): no run.
    assert db.scalars(select(TrainingRun).where(TrainingRun.project_id == pid)).all() == []
    assert sum(w.statements for w in empty) > 0
    assert sum(w.statements for w in full) == sum(w.statements for w in empty)
    # No decision at 90% labeled, auto-train attempts included, costs more than a
    # typical one at 0%: reading 360 labels would cost several times as much. (The
    # queue's own count of what is left only shrinks as the project fills up.)
    typical = sorted(w.vm_steps for w in empty)[WINDOW // 2]
    assert max(w.vm_steps for w in full) <= typical * 1.2, (empty, full)


def test_refused_attempt_reads_no_labels(
    app: FastAPI, api_as: ClientFor, admin: User, db: Session
) -> None:
    """The decision that makes a one-class project's attempt costs about what a plain
    decision does, at 90% labeled: the refusal does not re-scan the labels."""
    api = api_as(admin)
    pid, cid = _project(api, db)
    _label_directly(db, pid, cid, admin.id, IMAGES * 9 // 10)
    _decide(api, pid, cid, 2)  # an attempt (refused), then the check after it
    work = []
    for _ in range(EVERY):  # one period: exactly one decision makes an attempt
        with counting(app) as one:
            _decide(api, pid, cid, 1)
        work.append(one)
    plain = min(w.vm_steps for w in work)
    attempt = max(w.vm_steps for w in work)
    assert max(w.statements for w in work) > min(w.statements for w in work)  # it ran
    assert attempt <= plain * 1.5, [(w.statements, w.vm_steps) for w in work]
