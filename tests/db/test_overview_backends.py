"""The overview's figures on SQLite and on real PostgreSQL: the day of an annotation (a
dialect's own date function) and the pace (a MIN over a timestamp) come out the same."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.auth import service as auth
from app.auth.models import Role
from app.config import Settings
from app.db import utcnow
from app.main import create_app
from app.migrate import upgrade
from tests.overview.world import build

PW = "long-enough-pw"


@pytest.fixture
def backend_app(empty_database_url: str, tmp_path: Path) -> Iterator[FastAPI]:
    upgrade(empty_database_url)
    settings = Settings(
        env="test", data_dir=tmp_path, database_url=empty_database_url, secret_key="k" * 40
    )
    app = create_app(settings)
    with app.state.sessionmaker() as s, s.begin():
        auth.create_user(s, "mona", PW, Role.manager)
        auth.create_user(s, "lena", PW, Role.labeler)
    yield app
    app.state.engine.dispose()


def _client(app: FastAPI, username: str) -> TestClient:
    c = TestClient(app, follow_redirects=False)
    token = c.post("/api/v1/auth/token", data={"username": username, "password": PW})
    assert token.status_code == 200, token.text
    c.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return c


def test_overview_figures_on_both_backends(backend_app: FastAPI) -> None:
    mona, lena = _client(backend_app, "mona"), _client(backend_app, "lena")
    with backend_app.state.sessionmaker() as db:
        world = build(db, mona, lena, "lena")
    body = mona.get(f"/api/v1/projects/{world.pid}/stats").json()
    assert body["progress"]["labeled"] == 25
    assert body["progress"]["per_hour"] == 24.0
    assert body["per_day"]["days"][-1] == utcnow().date().isoformat()
    counts = {a["username"]: a["counts"] for a in body["per_day"]["annotators"]}
    assert counts["lena"][-1] == 12
    assert counts["lena"][-4] == 2
    assert counts["mona"][-1] == 12
    assert body["quality"] == {
        "label_issues": 2, "odd_pictures": 1, "disagreements": 1, "duplicate_groups": 2,
    }  # fmt: skip
    assert body["model"]["run_id"] == world.newest_run
    mona.close()
    lena.close()
