"""GET /api/v1/projects/{pid}/outliers: shape, order, paging, runs and access.

Scores are written here with the worker's own writer (``replace_scores``) on runs
written directly; a real run that scores real photos is in test_outliers_worker.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.insights.models import OutlierScore
from app.insights.outliers import count_flagged, prune, replace_scores
from app.training.models import RunStatus
from app.training.predictions import KEEP_RUNS
from tests.conftest import ClientFor, UserFactory
from tests.labeling.helpers import join
from tests.training.prediction_rows import Forest, forest, write_run

Answer = dict[str, Any]


def _get(api: TestClient, pid: int, **params: Any) -> Answer:
    resp = api.get(f"/api/v1/projects/{pid}/outliers", params=params)
    assert resp.status_code == 200, resp.text
    body: Answer = resp.json()
    return body


def _scored(db: Session, f: Forest, scores: list[float], flags: int = 2, **kw: Any) -> int:
    """A succeeded run of ``f`` whose images got ``scores`` (in image order); the
    ``flags`` highest are flagged. Rows are ranked as the worker ranks them."""
    run_id = write_run(db, f.pid, [(f["flower"], "flower"), (f["tree"], "tree")], {}, **kw)
    order = sorted(range(len(scores)), key=lambda n: (-scores[n], n))
    replace_scores(
        db,
        run_id,
        f.pid,
        [f.ids[n] for n in order],
        [scores[n] for n in order],
        [rank < flags for rank in range(len(order))],
    )
    db.commit()
    return run_id


SCORES = [0.12, 0.97, 0.3, 0.64, 0.05, 0.88, 0.41]


def test_every_scored_image_most_atypical_first(
    api_as: ClientFor, manager: User, db: Session
) -> None:
    api = api_as(manager)
    f = forest(api, images=7)
    run_id = _scored(db, f, SCORES)
    body = _get(api, f.pid)
    assert set(body) == {"items", "total", "run_id"}
    assert (body["run_id"], body["total"]) == (run_id, 7)
    expected = sorted(zip(f.ids, SCORES, strict=True), key=lambda p: -p[1])
    assert [i["image_id"] for i in body["items"]] == [i for i, _ in expected]
    assert [i["score"] for i in body["items"]] == pytest.approx([s for _, s in expected])
    assert [i["flagged"] for i in body["items"]] == [True, True] + [False] * 5
    assert all(set(i) == {"image_id", "score", "flagged"} for i in body["items"])
    assert count_flagged(db, f.pid) == 2


def test_pages_cover_the_list_once(api_as: ClientFor, manager: User, db: Session) -> None:
    api = api_as(manager)
    f = forest(api, images=7)
    _scored(db, f, SCORES)
    whole = [i["image_id"] for i in _get(api, f.pid)["items"]]
    pages = [_get(api, f.pid, limit=3, offset=o) for o in (0, 3, 6, 9)]
    assert [len(p["items"]) for p in pages] == [3, 3, 1, 0]
    assert [i["image_id"] for p in pages for i in p["items"]] == whole
    assert {p["total"] for p in pages} == {7}


def test_a_named_run_answers_for_itself_and_the_default_is_the_newest(
    api_as: ClientFor, manager: User, db: Session
) -> None:
    api = api_as(manager)
    f = forest(api, images=7)
    older = _scored(db, f, SCORES, flags=1)
    newer = _scored(db, f, list(reversed(SCORES)), flags=3)
    assert _get(api, f.pid)["run_id"] == newer
    assert _get(api, f.pid)["items"][0]["image_id"] == f.ids[5]
    assert _get(api, f.pid, run_id=older)["items"][0]["image_id"] == f.ids[1]
    assert count_flagged(db, f.pid) == 3  # the newest run's flags, not the sum
    # A succeeded run that scored nothing answers with an empty list, not an error.
    bare = write_run(db, f.pid, [(f["flower"], "flower"), (f["tree"], "tree")], {})
    assert _get(api, f.pid, run_id=bare) == {"items": [], "total": 0, "run_id": bare}


def test_no_scores_yet(api_as: ClientFor, manager: User, db: Session) -> None:
    api = api_as(manager)
    f = forest(api, images=2)
    assert _get(api, f.pid) == {"items": [], "total": 0, "run_id": None}
    assert count_flagged(db, f.pid) == 0


def test_a_run_that_did_not_succeed_is_a_409(api_as: ClientFor, manager: User, db: Session) -> None:
    api = api_as(manager)
    f = forest(api, images=2)
    failed = write_run(
        db, f.pid, [(f["flower"], "flower"), (f["tree"], "tree")], {}, status=RunStatus.failed
    )
    resp = api.get(f"/api/v1/projects/{f.pid}/outliers", params={"run_id": failed})
    assert resp.status_code == 409
    assert "failed" in resp.json()["detail"]


def test_a_run_of_another_project_or_unknown_is_a_404(
    api_as: ClientFor, manager: User, db: Session
) -> None:
    api = api_as(manager)
    f = forest(api, images=7)
    _scored(db, f, SCORES)
    other = forest(api, images=7, name="Other")
    foreign = _scored(db, other, SCORES)
    for run_id in (foreign, foreign + 1000):
        resp = api.get(f"/api/v1/projects/{f.pid}/outliers", params={"run_id": run_id})
        assert resp.status_code == 404
        assert resp.json()["detail"] == f"No training run with id {run_id}."
    # Each project sees its own images only.
    assert {i["image_id"] for i in _get(api, f.pid)["items"]} == set(f.ids)


def test_members_read_outsiders_get_a_404(
    api_as: ClientFor, manager: User, make_user: UserFactory, db: Session
) -> None:
    api = api_as(manager)
    f = forest(api, images=7)
    run_id = _scored(db, f, SCORES)
    member, outsider, other_manager = make_user(), make_user(), make_user(Role.manager)
    join(api, f.pid, member.username)
    body = _get(api_as(member), f.pid)
    assert (body["run_id"], body["total"]) == (run_id, 7)
    for stranger in (outsider, other_manager):
        for params in ({}, {"run_id": run_id}):
            resp = api_as(stranger).get(f"/api/v1/projects/{f.pid}/outliers", params=params)
            assert resp.status_code == 404, stranger.username
            assert resp.json()["detail"] == f"No project with id {f.pid}."
    assert TestClient(api.app).get(f"/api/v1/projects/{f.pid}/outliers").status_code == 401


@pytest.mark.parametrize(
    "params",
    [
        {"offset": -1},
        {"limit": 0},
        {"limit": 1001},
        {"limit": 10**12},
        {"offset": 10**30},
        {"run_id": "abc"},
        {"run_id": 0},
        {"run_id": -5},
        {"run_id": 2**31},
        {"run_id": "1 OR 1=1"},
        {"limit": "1; DROP TABLE outlier_scores"},
        {"offset": "x" * 5000},
    ],
)
def test_malformed_parameters_are_422(
    api_as: ClientFor, manager: User, db: Session, params: dict[str, Any]
) -> None:
    api = api_as(manager)
    f = forest(api, images=7)
    _scored(db, f, SCORES)
    resp = api.get(f"/api/v1/projects/{f.pid}/outliers", params=params)
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"]
    assert _get(api, f.pid)["total"] == 7  # nothing was harmed


def test_the_route_is_documented(api_as: ClientFor, manager: User) -> None:
    schema = api_as(manager).get("/api/v1/openapi.json").json()
    op = schema["paths"]["/api/v1/projects/{project_id}/outliers"]["get"]
    assert "most atypical first" in " ".join(op["description"].split())
    assert {p["name"] for p in op["parameters"]} >= {"run_id", "limit", "offset"}
    item = schema["components"]["schemas"]["OutlierOut"]
    assert set(item["properties"]) == {"image_id", "score", "flagged"}
    assert "0..1" in item["properties"]["score"]["description"]


def test_old_runs_scores_go_with_their_predictions(
    api_as: ClientFor, manager: User, db: Session
) -> None:
    """Each run scores every picture of the project: without pruning, 100,000 rows a run
    would pile up. The worker prunes while its run is not yet succeeded: that run and the
    newest KEEP_RUNS - 1 succeeded ones keep their rows; an older run's answer is a 409."""
    api = api_as(manager)
    f = forest(api, images=7)
    runs = [_scored(db, f, SCORES) for _ in range(KEEP_RUNS + 1)]
    current = _scored(db, f, SCORES, status=RunStatus.running)
    prune(db, f.pid, current)
    db.commit()
    kept = set(db.scalars(select(OutlierScore.run_id).where(OutlierScore.project_id == f.pid)))
    assert kept == {*runs[-(KEEP_RUNS - 1) :], current}
    resp = api.get(f"/api/v1/projects/{f.pid}/outliers", params={"run_id": runs[0]})
    assert resp.status_code == 409
    assert "dropped" in resp.json()["detail"]
    assert _get(api, f.pid, run_id=runs[-1])["total"] == 7
