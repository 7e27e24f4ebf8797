"""The label-issues API on SQLite and on real PostgreSQL: rows written by the worker's
writer come back most likely wrong first, paged, with the same flagged count, and old
runs are pruned alike on both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.auth import service as auth
from app.auth.models import Role
from app.config import Settings
from app.insights.label_issues import IssueRow, count_flagged, prune, replace_issues
from app.insights.models import LabelIssue
from app.main import create_app
from app.migrate import upgrade
from app.training.models import RunStatus, TrainingRun
from app.training.predictions import KEEP_RUNS
from tests.images.helpers import jpegs, upload
from tests.training.prediction_rows import write_run

PW = "long-enough-pw"


@pytest.fixture
def app_client(empty_database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    upgrade(empty_database_url)
    settings = Settings(
        env="test", data_dir=tmp_path, database_url=empty_database_url, secret_key="k" * 40
    )
    app = create_app(settings)
    with app.state.sessionmaker() as s, s.begin():
        auth.create_user(s, "mona", PW, Role.manager)
    with TestClient(app, follow_redirects=False) as c:
        token = c.post("/api/v1/auth/token", data={"username": "mona", "password": PW})
        assert token.status_code == 200, token.text
        c.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield c
    app.state.engine.dispose()


def test_label_issues_on_both_backends(app_client: TestClient) -> None:
    api = app_client
    pid = int(api.post("/api/v1/projects", json={"name": "Glass"}).json()["id"])
    upload(api, pid, jpegs(6))
    ids = sorted(i["id"] for i in api.get(f"/api/v1/projects/{pid}/images").json()["items"])
    cats = [
        int(api.post(f"/api/v1/projects/{pid}/categories", json={"name": n}).json()["id"])
        for n in ("wine", "beer")
    ]
    scores = [0.2, 0.9, 0.05, 0.7, 0.4, 0.99]
    order = sorted(range(6), key=lambda n: -scores[n])
    rows = [
        IssueRow(ids[n], cats[n % 2], cats[(n + (rank < 2)) % 2], scores[n], rank < 2)
        for rank, n in enumerate(order)
    ]
    classes = [(cats[0], "wine"), (cats[1], "beer")]
    sessions = api.app.state.sessionmaker  # type: ignore[attr-defined]
    with sessions() as db:
        old = [write_run(db, pid, classes, {}) for _ in range(KEEP_RUNS)]
        for run_id in old:
            replace_issues(db, run_id, pid, rows[:1])
        current = write_run(db, pid, classes, {}, status=RunStatus.running)
        # Twice: a rerun of the phase replaces the run's rows.
        for _ in range(2):
            replace_issues(db, current, pid, rows)
        prune(db, pid, current)
        db.commit()
        kept = set(db.scalars(select(LabelIssue.run_id).where(LabelIssue.project_id == pid)))
        assert kept == {*old[1:], current}
        assert count_flagged(db, pid) == 1  # the newest succeeded run: one row, flagged
        db.get_one(TrainingRun, current).status = RunStatus.succeeded  # the phase's end
        db.commit()
        assert count_flagged(db, pid) == 2

    body = api.get(f"/api/v1/projects/{pid}/label-issues", params={"limit": 4}).json()
    assert (body["run_id"], body["total"]) == (current, 6)
    assert [i["image_id"] for i in body["items"]] == [ids[n] for n in order[:4]]
    assert [i["score"] for i in body["items"]] == pytest.approx([0.99, 0.9, 0.7, 0.4])
    assert [i["flagged"] for i in body["items"]] == [True, True, False, False]
    assert [i["given_category_id"] for i in body["items"]] == [cats[n % 2] for n in order[:4]]
    rest = api.get(f"/api/v1/projects/{pid}/label-issues", params={"limit": 4, "offset": 4}).json()
    assert [i["image_id"] for i in rest["items"]] == [ids[n] for n in order[4:]]
    pruned = api.get(f"/api/v1/projects/{pid}/label-issues", params={"run_id": old[0]})
    assert pruned.status_code == 409
