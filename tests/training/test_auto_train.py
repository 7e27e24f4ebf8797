"""Auto-train: labeling through the API queues a linear run every N labels, one at a time."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.training.models import RunStatus, TrainingRun
from tests.conftest import ClientFor
from tests.labeling.helpers import arrange, label


def _runs(db: Session, pid: int) -> list[TrainingRun]:
    db.expire_all()
    query = select(TrainingRun).where(TrainingRun.project_id == pid).order_by(TrainingRun.id)
    return list(db.scalars(query))


def test_every_n_labels_queues_one_run(api_as: ClientFor, admin: User, db: Session) -> None:
    api = api_as(admin)
    s = arrange(api, images=12)
    api.patch(f"/api/v1/projects/{s.pid}", json={"auto_train_every": 4})
    cats = [s.categories["wine"], s.categories["beer"]]
    for n in range(3):
        label(api, s.image_ids[n], cats[n % 2])
    assert _runs(db, s.pid) == []  # 3 of 4
    label(api, s.image_ids[3], cats[1])
    (run,) = _runs(db, s.pid)
    assert (run.mode.value, run.trigger, run.label_count, run.status) == (
        "linear",
        "auto",
        4,
        RunStatus.queued,
    )
    for n in range(4, 9):
        label(api, s.image_ids[n], cats[n % 2])
    assert len(_runs(db, s.pid)) == 1  # one is queued already: no second
    run.status = RunStatus.succeeded
    db.commit()
    bulk = api.post(
        f"/api/v1/projects/{s.pid}/annotations/bulk",
        json={"image_ids": s.image_ids[9:12], "category_id": cats[0]},
    )
    assert bulk.status_code == 201
    runs = _runs(db, s.pid)
    assert [r.label_count for r in runs] == [4, 12]
    assert runs[1].trigger == "auto"


def test_off_and_not_trainable(api_as: ClientFor, admin: User, db: Session) -> None:
    api = api_as(admin)
    s = arrange(api, images=6)
    api.patch(f"/api/v1/projects/{s.pid}", json={"auto_train_every": 2})
    for n in range(3):  # one class only: nothing to learn, and labeling goes on
        label(api, s.image_ids[n], s.categories["wine"])
    assert _runs(db, s.pid) == []
    label(api, s.image_ids[3], s.categories["beer"])  # tried: beer has 1, too few
    label(api, s.image_ids[4], s.categories["beer"])
    assert _runs(db, s.pid) == []  # refused 1 label ago: waits for N more
    label(api, s.image_ids[5], s.categories["wine"])
    assert [r.label_count for r in _runs(db, s.pid)] == [6]
    other = arrange(api, images=4, name="Off")
    api.patch(f"/api/v1/projects/{other.pid}", json={"auto_train_every": 0})
    for n, cat in enumerate(("wine", "wine", "beer", "beer")):
        label(api, other.image_ids[n], other.categories[cat])
    assert _runs(db, other.pid) == []


def test_projects_labeled_in_turn_each_train_after_their_own_n(
    api_as: ClientFor, admin: User, db: Session
) -> None:
    """Annotation ids are shared by all projects, so each project's ids skip; the cheap
    pre-check (at most ``newest - after`` new labels) must not delay either run."""
    api = api_as(admin)
    first = arrange(api, images=6, name="First")
    second = arrange(api, images=6, name="Second")
    for s in (first, second):
        api.patch(f"/api/v1/projects/{s.pid}", json={"auto_train_every": 4})
    for n in range(4):
        for s in (first, second):
            assert _runs(db, s.pid) == [], (s.pid, n)
            label(api, s.image_ids[n], s.categories["wine" if n % 2 else "beer"])
    assert [r.label_count for r in _runs(db, first.pid)] == [4]
    assert [r.label_count for r in _runs(db, second.pid)] == [4]
