"""The label-issue and odd-picture review queues on SQLite and on real PostgreSQL: the
migrated lease constraint takes the two queue modes, the queues serve in the run's rank
order, and a keep (an upsert) is stored once and taken back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.auth import service as auth
from app.auth.models import Role
from app.config import Settings
from app.main import create_app
from app.migrate import upgrade
from tests.images.helpers import jpegs, upload
from tests.insights.review_rows import write_issues, write_outliers
from tests.training.prediction_rows import write_run

PW = "long-enough-pw"


@pytest.fixture
def api(empty_database_url: str, tmp_path: Path) -> Iterator[TestClient]:
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


def _next(api: TestClient, pid: int, mode: str) -> int | None:
    resp = api.get(f"/api/v1/projects/{pid}/queue/next", params={"mode": mode})
    if resp.status_code == 204:
        return None
    assert resp.status_code == 200, resp.text
    return int(resp.json()["image_id"])


def test_both_review_queues_on_both_backends(api: TestClient) -> None:
    pid = int(api.post("/api/v1/projects", json={"name": "Glass"}).json()["id"])
    upload(api, pid, jpegs(4))
    ids = sorted(i["id"] for i in api.get(f"/api/v1/projects/{pid}/images").json()["items"])
    wine, beer = (
        int(api.post(f"/api/v1/projects/{pid}/categories", json={"name": n}).json()["id"])
        for n in ("wine", "beer")
    )
    for image in ids[:3]:
        assert api.post(
            f"/api/v1/images/{image}/annotations", json={"category_id": wine}
        ).is_success
    with api.app.state.sessionmaker() as db:  # type: ignore[attr-defined]
        run = write_run(db, pid, [(wine, "wine"), (beer, "beer")], {})
        write_issues(
            db, pid, run, [(ids[2], wine, beer, 0.9, True), (ids[0], wine, wine, 0.1, False)]
        )
        write_outliers(db, pid, run, [(ids[3], 0.99), (ids[1], 0.5), (ids[0], 0.1)])

    assert _next(api, pid, "label_issues") == ids[2]
    kept = api.post(f"/api/v1/images/{ids[2]}/annotations", json={"category_id": wine}).json()
    assert kept["source"] == "review"
    assert _next(api, pid, "label_issues") == ids[0]

    assert _next(api, pid, "odd_pictures") == ids[3]
    url = f"/api/v1/images/{ids[3]}/dismissals"
    assert api.post(url, json={"queue": "odd_pictures"}).status_code == 201
    assert api.post(url, json={"queue": "odd_pictures"}).status_code == 200
    assert _next(api, pid, "odd_pictures") == ids[1]
    assert api.delete(url, params={"queue": "odd_pictures"}).status_code == 204
    assert _next(api, pid, "odd_pictures") == ids[3]
