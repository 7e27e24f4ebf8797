"""GET /api/v1/projects/{pid}/stats on a hand-built project: every figure, and who may read it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.db import utcnow
from tests.conftest import ClientFor, UserFactory
from tests.overview.world import World, build


@pytest.fixture
def world(db: Session, api_as: ClientFor, manager: User, labeler: User) -> World:
    return build(db, api_as(manager), api_as(labeler), labeler.username)


def _stats(api: TestClient, pid: int) -> dict[str, Any]:
    resp = api.get(f"/api/v1/projects/{pid}/stats")
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_progress_counts_and_pace(world: World, api_as: ClientFor, manager: User) -> None:
    progress = _stats(api_as(manager), world.pid)["progress"]
    assert progress == {
        "total": 30,
        "labeled": 25,
        "unlabeled": 4,
        "rejected": 1,
        # 24 first decisions in the last 24 hours, all within the last hour: 24 an hour.
        "per_hour": 24.0,
        "hours_left": round(4 / 24, 1),
    }


def test_class_balance_is_tree_aware_with_f1_and_flags(
    world: World, api_as: ClientFor, manager: User
) -> None:
    f = world.forest
    rows = {c["name"]: c for c in _stats(api_as(manager), world.pid)["classes"]}
    assert list(rows) == ["flower", "daisy", "rose", "tree", "oak"]  # depth first
    assert (rows["flower"]["own"], rows["flower"]["total"]) == (1, 15)
    assert (rows["tree"]["own"], rows["tree"]["total"]) == (0, 10)
    assert (rows["daisy"]["total"], rows["rose"]["total"], rows["oak"]["total"]) == (12, 2, 10)
    assert rows["daisy"]["parent_id"] == f["flower"]
    assert rows["flower"]["parent_id"] is None
    assert rows["oak"]["path"] == "tree/oak"
    assert rows["oak"]["depth"] == 2
    # F1 comes from the newest run's metrics, joined through its classes' ids.
    assert rows["daisy"]["f1"] == 0.95
    assert rows["oak"]["f1"] == 0.6
    assert rows["flower"]["f1"] is None
    flags = {name: row["needs_labels"] for name, row in rows.items()}
    # rose: 2 labels; oak: F1 0.6; daisy and the families: enough labels, no low F1.
    assert flags == {"flower": False, "daisy": False, "rose": True, "tree": False, "oak": True}


def test_labels_per_day_stacked_by_annotator(
    world: World, api_as: ClientFor, manager: User, labeler: User
) -> None:
    per_day = _stats(api_as(manager), world.pid)["per_day"]
    days = per_day["days"]
    assert len(days) == 14
    assert days[-1] == utcnow().date().isoformat()
    counts = {a["username"]: a["counts"] for a in per_day["annotators"]}
    assert set(counts) == {manager.username, labeler.username}
    assert counts[labeler.username][-1] == 12
    assert counts[labeler.username][-4] == 2
    assert sum(counts[labeler.username]) == 14
    # The manager's 10 oaks, 1 flower and 1 rejection, all today.
    assert counts[manager.username][-1] == 12
    assert sum(counts[manager.username]) == 12
    # The busiest annotator comes first (the bottom of each stack).
    assert [a["username"] for a in per_day["annotators"]] == [labeler.username, manager.username]


def test_runs_model_and_queue(world: World, api_as: ClientFor, manager: User) -> None:
    body = _stats(api_as(manager), world.pid)
    assert [(r["run_id"], r["labels"], r["accuracy"]) for r in body["runs"]] == [
        (world.older_run, 6, 0.8),
        (world.newest_run, 24, 0.9),
    ]
    model = body["model"]
    assert model["run_id"] == world.newest_run
    assert model["previous_run_id"] == world.older_run
    assert model["accuracy"] == 0.9
    assert model["label_count"] == 24
    assert model["accuracy_change"] == pytest.approx(0.1)
    assert model["macro_f1_change"] == pytest.approx((0.95 + 0.9 + 0.6) / 3 - 0.7, abs=1e-6)
    assert body["queue"] == {
        "strategy": "default",
        "concrete": "typiclust",
        "run_id": world.newest_run,
        "text": f"default (typiclust) · run #{world.newest_run}",
    }


def test_quality_counts(world: World, api_as: ClientFor, manager: User) -> None:
    assert _stats(api_as(manager), world.pid)["quality"] == {
        "label_issues": 2,  # the newest run's flags only
        "odd_pictures": 1,
        "disagreements": 1,
        "duplicate_groups": 2,
    }


def test_empty_project(api_as: ClientFor, manager: User) -> None:
    api = api_as(manager)
    pid = api.post("/api/v1/projects", json={"name": "Empty"}).json()["id"]
    body = _stats(api, pid)
    assert body["progress"] == {
        "total": 0, "labeled": 0, "unlabeled": 0, "rejected": 0,
        "per_hour": None, "hours_left": None,
    }  # fmt: skip
    assert body["classes"] == []
    assert body["runs"] == []
    assert body["model"] is None
    assert body["per_day"]["annotators"] == []
    assert body["queue"]["run_id"] is None
    assert "not ranked yet" in body["queue"]["text"]


def test_members_read_outsiders_get_404(
    world: World, api_as: ClientFor, labeler: User, make_user: UserFactory, client: TestClient
) -> None:
    assert _stats(api_as(labeler), world.pid)["progress"]["total"] == 30
    stranger = api_as(make_user(Role.manager, "stranger"))
    resp = stranger.get(f"/api/v1/projects/{world.pid}/stats")
    assert resp.status_code == 404
    assert "Overview" not in resp.text
    assert client.get(f"/api/v1/projects/{world.pid}/stats").status_code == 401
    assert api_as(labeler).get("/api/v1/projects/999999/stats").status_code == 404


@pytest.mark.parametrize("bad", ["0", "-1", "abc", "9" * 40, "1%00"])
def test_malformed_project_ids(api_as: ClientFor, manager: User, bad: str) -> None:
    resp = api_as(manager).get(f"/api/v1/projects/{bad}/stats")
    assert resp.status_code in (404, 422), resp.text


def test_documented_in_openapi(api_as: ClientFor, manager: User) -> None:
    schema = api_as(manager).get("/api/v1/openapi.json").json()
    op = schema["paths"]["/api/v1/projects/{project_id}/stats"]["get"]
    assert "Progress" in op["description"]
    ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/ProjectStats")
    assert "404" in op["responses"]
