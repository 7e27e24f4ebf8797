"""Training runs through the API, without a worker: refusal, roles, queueing, cancel."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import User
from app.background.owners import Claim, this_process
from app.db import utcnow
from app.projects.models import Project
from app.training import dataset, jobs
from app.training.models import RunStatus, TrainingRun, TrainingSample
from tests.conftest import ClientFor, UserFactory
from tests.labeling.helpers import Setup, arrange, join, label


def _labeled(api: TestClient, per_class: dict[str, int], images: int = 8) -> Setup:
    s = arrange(api, images=images)
    ids = iter(s.image_ids)
    for name, count in per_class.items():
        for _ in range(count):
            label(api, next(ids), s.categories[name])
    return s


def test_too_few_labels_is_refused_with_what_is_needed(api_as: ClientFor, admin: User) -> None:
    api = api_as(admin)
    s = _labeled(api, {"wine": 3, "beer": 1})
    resp = api.post(f"/api/v1/projects/{s.pid}/training-runs", json={"mode": "linear"})
    assert resp.status_code == 422
    detail = resp.json()["detail"]
    assert "at least 2 classes with 2 or more labeled images each" in detail
    assert "beer: 1" in detail
    assert api.get(f"/api/v1/projects/{s.pid}/training-runs").json() == []


def test_a_run_is_queued_read_and_cancelled(api_as: ClientFor, admin: User) -> None:
    api = api_as(admin)
    s = _labeled(api, {"wine": 3, "beer": 2})
    resp = api.post(
        f"/api/v1/projects/{s.pid}/training-runs",
        json={"mode": "linear", "params": {"C": 0.5}},
    )
    assert resp.status_code == 202, resp.text
    assert resp.json()["status"] == "queued"
    rid = resp.json()["id"]
    run = api.get(f"/api/v1/training-runs/{rid}").json()
    assert (run["status"], run["progress"], run["metrics"], run["error"]) == (
        "queued",
        0.0,
        None,
        None,
    )
    assert (run["mode"], run["backbone"], run["label_count"]) == ("linear", "efficientnet_lite0", 5)
    assert run["params"] == {"C": 0.5}
    assert [r["id"] for r in api.get(f"/api/v1/projects/{s.pid}/training-runs").json()] == [rid]
    cancelled = api.post(f"/api/v1/training-runs/{rid}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    again = api.post(f"/api/v1/training-runs/{rid}/cancel")
    assert again.status_code == 409
    assert "already cancelled" in again.json()["detail"]
    model = api.get(f"/api/v1/training-runs/{rid}/model")
    assert model.status_code == 409


def test_bad_bodies_are_refused(api_as: ClientFor, admin: User) -> None:
    api = api_as(admin)
    s = _labeled(api, {"wine": 2, "beer": 2})
    url = f"/api/v1/projects/{s.pid}/training-runs"
    for body in (
        {"mode": "deep"},
        {"mode": "linear", "level": 0},
        {"mode": "linear", "level": "two"},
        {"mode": "linear", "backbone": "../../etc/passwd"},
        {"mode": "linear", "params": {"C": -1}},
        {"mode": "linear", "params": {"epochs": 10**9}},
        {"mode": "linear", "params": {"evil": True}},
        {"mode": "linear", "extra": 1},
        [],
    ):
        assert api.post(url, json=body).status_code == 422, body
    deep = api.post(url, json={"mode": "linear", "level": 3})
    assert deep.status_code == 422
    assert "deeper than the taxonomy" in deep.json()["detail"]
    assert api.get(url).json() == []


def test_roles(api_as: ClientFor, admin: User, make_user: UserFactory) -> None:
    api = api_as(admin)
    s = _labeled(api, {"wine": 2, "beer": 2})
    labeler, outsider = make_user(), make_user()
    join(api, s.pid, labeler.username)
    url = f"/api/v1/projects/{s.pid}/training-runs"
    assert api_as(labeler).post(url, json={"mode": "linear"}).status_code == 403
    assert api_as(outsider).post(url, json={"mode": "linear"}).status_code == 404
    rid = api.post(url, json={"mode": "linear"}).json()["id"]
    assert api_as(labeler).get(f"/api/v1/training-runs/{rid}").status_code == 200
    assert api_as(outsider).get(f"/api/v1/training-runs/{rid}").status_code == 404
    assert api_as(labeler).post(f"/api/v1/training-runs/{rid}/cancel").status_code == 403
    assert api_as(outsider).post(f"/api/v1/training-runs/{rid}/cancel").status_code == 404
    assert api.get(f"/api/v1/training-runs/{rid}").json()["status"] == "queued"


def test_archived_project_does_not_train(api_as: ClientFor, admin: User) -> None:
    api = api_as(admin)
    s = _labeled(api, {"wine": 2, "beer": 2})
    api.patch(f"/api/v1/projects/{s.pid}", json={"archived": True})
    resp = api.post(f"/api/v1/projects/{s.pid}/training-runs", json={"mode": "linear"})
    assert resp.status_code == 409


def test_labels_roll_up_to_the_level_and_the_rest_is_counted(
    api_as: ClientFor, admin: User, db: Session
) -> None:
    api = api_as(admin)
    s = arrange(api, images=8, cats=("flower", "tree"))
    cats = s.categories
    for parent, child in (("flower", "daisy"), ("flower", "rose"), ("tree", "oak")):
        resp = api.post(
            f"/api/v1/projects/{s.pid}/categories", json={"name": child, "parent_id": cats[parent]}
        )
        cats[child] = resp.json()["id"]
    plan = ["daisy", "daisy", "rose", "rose", "oak", "oak", "flower", "tree"]
    for image_id, name in zip(s.image_ids, plan, strict=True):
        label(api, image_id, cats[name])
    project = db.get_one(Project, s.pid)
    roots = dataset.build(db, project, level=1)
    assert sorted(roots.classes) == sorted([(cats["flower"], "flower"), (cats["tree"], "tree")])
    assert sorted(roots.labels) == sorted([cats["flower"]] * 5 + [cats["tree"]] * 3)
    assert roots.above_level == 0
    leaves = dataset.build(db, project, level=2)
    assert [name for _, name in leaves.classes] == ["flower/daisy", "flower/rose", "tree/oak"]
    assert leaves.above_level == 2  # "flower" and "tree" say nothing about the species
    deepest = dataset.build(db, project, level=None)
    assert len(deepest.classes) == 3  # flower and tree, 1 label each, are too small
    assert deepest.small_classes == {"flower": 1, "tree": 1}
    assert deepest.report()["per_class"] == {cats["daisy"]: 2, cats["rose"]: 2, cats["oak"]: 2}


def test_a_silent_worker_is_reaped_by_the_reaper_not_by_reads(
    api_as: ClientFor, admin: User, db: Session
) -> None:
    api = api_as(admin)
    s = _labeled(api, {"wine": 2, "beer": 2})
    rid = api.post(f"/api/v1/projects/{s.pid}/training-runs", json={"mode": "linear"}).json()["id"]
    me = this_process("test@here", "boot")
    assert jobs.claim(db, rid, me, "t1", stale_after=300) is Claim.claimed
    # The same message again while its owner (this process) runs it: not a second copy.
    assert jobs.claim(db, rid, me, "t1", stale_after=300) is Claim.busy
    db.execute(
        TrainingRun.__table__.update()
        .where(TrainingRun.id == rid)
        .values(heartbeat_at=utcnow() - timedelta(minutes=10))
    )
    db.commit()
    # Reading the run changes nothing: the workers' reaper ends it.
    assert api.get(f"/api/v1/training-runs/{rid}").json()["status"] == "running"
    assert jobs.reap_stale(db, stale_after=300) == 1
    db.commit()
    run = api.get(f"/api/v1/training-runs/{rid}").json()
    assert run["status"] == "failed"
    assert "the worker stopped responding" in run["error"].lower()


def test_confusion_cell_lists_its_images(api_as: ClientFor, admin: User, db: Session) -> None:
    api = api_as(admin)
    s = _labeled(api, {"wine": 2, "beer": 2})
    wine, beer = s.categories["wine"], s.categories["beer"]
    run = TrainingRun(project_id=s.pid, mode="linear", backbone="efficientnet_lite0")
    run.status = RunStatus.succeeded
    db.add(run)
    db.flush()
    truth = [(s.image_ids[0], wine, beer), (s.image_ids[1], wine, wine)]
    for image_id, true_id, predicted_id in truth:
        db.add(TrainingSample(run_id=run.id, image_id=image_id, annotation_id=1, true_id=true_id,
                              predicted_id=predicted_id))  # fmt: skip
    db.commit()
    url = f"/api/v1/training-runs/{run.id}/confusion"
    cell = api.get(url, params={"true_id": wine, "predicted_id": beer}).json()
    assert [c["id"] for c in cell] == [s.image_ids[0]]
    assert cell[0]["thumbnail_url"].endswith("/thumbnail")
    assert api.get(url, params={"true_id": beer, "predicted_id": wine}).json() == []
