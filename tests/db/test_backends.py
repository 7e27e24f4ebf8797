"""The same user and project flows, and the database's own guards, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth import service as auth
from app.auth.models import LoginFailure, Role
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.main import create_app
from app.migrate import upgrade
from app.projects import service as projects
from app.projects.models import Membership, Project, ProjectRole

PW = "long-enough-pw"


@pytest.fixture
def database(empty_database_url: str) -> str:
    upgrade(empty_database_url)
    return empty_database_url


@pytest.fixture
def session(database: str) -> Iterator[Session]:
    engine = make_engine(database)
    with make_sessionmaker(engine)() as s:
        yield s
    engine.dispose()


def test_api_flow(database: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database, secret_key="k" * 40)
    app = create_app(settings)
    with app.state.sessionmaker() as s, s.begin():
        auth.create_user(s, "root", PW, Role.admin)
        auth.create_user(s, "lena", PW, Role.labeler)
    with TestClient(app) as client:
        tok = client.post("/api/v1/auth/token", data={"username": "root", "password": PW})
        client.headers["Authorization"] = f"Bearer {tok.json()['access_token']}"
        pid = client.post("/api/v1/projects", json={"name": "Flowers"}).json()["id"]
        assert client.post("/api/v1/projects", json={"name": "FLOWERS"}).status_code == 409
        url = f"/api/v1/projects/{pid}/members"
        assert client.post(url, json={"username": "lena"}).status_code == 201
        assert client.post(url, json={"username": "lena"}).status_code == 409
        renamed = client.patch(f"/api/v1/projects/{pid}", json={"name": "Flora", "archived": True})
        assert renamed.json()["archived"] is True
    app.state.engine.dispose()


def test_database_refuses_duplicates_that_skip_the_service(session: Session) -> None:
    user = auth.create_user(session, "root", PW, Role.admin)
    project = projects.create_project(session, user, "Flowers")
    session.commit()
    session.add(Project(name="flowers", name_key="flowers", description=""))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
    session.add(Membership(project_id=project.id, user_id=user.id, role=ProjectRole.labeler))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_deleting_a_project_removes_its_memberships(session: Session) -> None:
    user = auth.create_user(session, "root", PW, Role.admin)
    project = projects.create_project(session, user, "P")
    session.commit()
    session.delete(project)
    session.commit()
    assert session.scalars(select(Membership)).all() == []


def test_times_come_back_in_utc(session: Session) -> None:
    user = auth.create_user(session, "root", PW, Role.admin)
    session.commit()
    session.expire_all()
    assert session.get(type(user), user.id).created_at.tzinfo == UTC  # type: ignore[union-attr]


def test_throttling_and_tokens(session: Session) -> None:
    auth.create_user(session, "lena", PW, Role.labeler)
    for _ in range(3):
        assert auth.authenticate(session, "lena", "nope", max_failures=3, window=60) is None
    session.commit()
    assert len(session.scalars(select(LoginFailure)).all()) == 3
    with pytest.raises(auth.RateLimited):
        auth.authenticate(session, "lena", PW, max_failures=3, window=60)
    user = auth.authenticate(session, "lena", PW, max_failures=10, window=60)
    assert user is not None
    token = auth.issue_token(session, user, ttl=60)
    session.commit()
    found = auth.user_for_token(session, token)
    assert found is not None
    assert found.username == "lena"
    assert auth.user_for_token(session, token + "x") is None


def test_failures_older_than_the_window_are_swept(session: Session) -> None:
    from datetime import timedelta

    from app.db import utcnow

    session.add(LoginFailure(username="ghost", at=utcnow() - timedelta(hours=2)))
    session.commit()
    assert auth.authenticate(session, "other", "nope", max_failures=5, window=60) is None
    session.commit()
    assert [f.username for f in session.scalars(select(LoginFailure))] == ["other"]


def test_names_whose_case_folding_grows_fit(database: str, tmp_path: Path) -> None:
    """'ß' folds to 'ss': a 100-character name has a 200-character key."""
    settings = Settings(data_dir=tmp_path, database_url=database, secret_key="k" * 40)
    app = create_app(settings)
    with app.state.sessionmaker() as s, s.begin():
        auth.create_user(s, "root", PW, Role.admin)
    with TestClient(app) as client:
        tok = client.post("/api/v1/auth/token", data={"username": "root", "password": PW})
        client.headers["Authorization"] = f"Bearer {tok.json()['access_token']}"
        created = client.post("/api/v1/projects", json={"name": "ß" * 100})
        assert created.status_code == 201
        assert client.post("/api/v1/projects", json={"name": "ß" * 100}).status_code == 409
        # Folding makes "ß" and "ss" the same name.
        client.post("/api/v1/projects", json={"name": "Straße"})
        assert client.post("/api/v1/projects", json={"name": "STRASSE"}).status_code == 409
        pid = created.json()["id"]
        category = client.post(f"/api/v1/projects/{pid}/categories", json={"name": "ﬃ" * 100})
        assert category.status_code == 201
    app.state.engine.dispose()
