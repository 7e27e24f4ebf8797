"""The odd-pictures API on SQLite and on real PostgreSQL: scores written by the worker's
writer come back most atypical first, paged, with the same flagged count on both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.auth import service as auth
from app.auth.models import Role
from app.config import Settings
from app.insights.outliers import count_flagged, replace_scores
from app.main import create_app
from app.migrate import upgrade
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


def test_outliers_on_both_backends(app_client: TestClient) -> None:
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
    sessions = api.app.state.sessionmaker  # type: ignore[attr-defined]
    with sessions() as db:
        run_id = write_run(db, pid, [(cats[0], "wine"), (cats[1], "beer")], {})
        # Twice: a rerun of the phase replaces the run's rows.
        for _ in range(2):
            replace_scores(
                db, run_id, pid, [ids[n] for n in order], [scores[n] for n in order],
                [rank < 2 for rank in range(6)],
            )  # fmt: skip
        db.commit()
        assert count_flagged(db, pid) == 2

    body = api.get(f"/api/v1/projects/{pid}/outliers", params={"limit": 4}).json()
    assert (body["run_id"], body["total"]) == (run_id, 6)
    assert [i["image_id"] for i in body["items"]] == [ids[n] for n in order[:4]]
    assert [i["score"] for i in body["items"]] == pytest.approx([0.99, 0.9, 0.7, 0.4])
    assert [i["flagged"] for i in body["items"]] == [True, True, False, False]
    rest = api.get(f"/api/v1/projects/{pid}/outliers", params={"limit": 4, "offset": 4}).json()
    assert [i["image_id"] for i in rest["items"]] == [ids[n] for n in order[4:]]
