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

from app.auth import credentials
from app.auth import service as auth
from app.auth.models import LoginFailure, Role
from app.auth.throttle import ThrottlePolicy
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.errors import RateLimited
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


THROTTLE = ThrottlePolicy(
    pair_free_failures=3,
    address_free_failures=10,
    first_delay=60,
    max_delay=900,
    window=60,
    global_failures_per_minute=100,
)


def test_throttling_tokens_and_sessions(session: Session) -> None:
    auth.create_user(session, "lena", PW, Role.labeler)
    for _ in range(3):
        assert auth.authenticate(session, "lena", "nope", client="A", policy=THROTTLE) is None
    session.commit()
    assert len(session.scalars(select(LoginFailure)).all()) == 3
    with pytest.raises(RateLimited) as refused:
        auth.authenticate(session, "lena", PW, client="A", policy=THROTTLE)
    assert 50 < refused.value.retry_after <= 60
    user = auth.authenticate(session, "lena", PW, client="B", policy=THROTTLE)
    assert user is not None
    token = credentials.issue_token(session, user, ttl=60)
    secret = credentials.start_session(session, user, max_age=60, user_agent="pytest")
    session.commit()
    found = credentials.user_for_token(session, token)
    assert found is not None
    assert found.username == "lena"
    assert credentials.user_for_token(session, token + "x") is None
    assert credentials.user_for_session(session, secret, max_age=60) is user
    credentials.end_session(session, secret)
    session.commit()
    assert credentials.user_for_session(session, secret) is None


def test_failures_older_than_the_window_are_swept(session: Session) -> None:
    from datetime import timedelta

    from app.db import utcnow

    session.add(LoginFailure(username="ghost", client="A", at=utcnow() - timedelta(hours=2)))
    session.commit()
    assert auth.authenticate(session, "other", "nope", client="A", policy=THROTTLE) is None
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
