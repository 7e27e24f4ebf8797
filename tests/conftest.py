"""Shared fixtures: an app on a fresh migrated database, users, and clients."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.auth.models import Role, User
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.main import create_app
from app.migrate import upgrade

PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once per session; each test copies the file (much faster than migrating)."""
    path = tmp_path_factory.mktemp("template") / "curator.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def settings(tmp_path: Path, migrated_sqlite: Path) -> Settings:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy(migrated_sqlite, data_dir / "curator.db")
    return Settings(env="test", data_dir=data_dir, secret_key="test-secret-key-" + "x" * 32)


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def db(app: FastAPI) -> Iterator[Session]:
    """A session on the app's database, for arranging and checking state."""
    with app.state.sessionmaker() as session:
        yield session


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as c:
        yield c


UserFactory = Callable[..., User]


@pytest.fixture
def make_user(db: Session) -> UserFactory:
    counter = iter(range(1, 10_000))

    def make(
        role: Role = Role.labeler, username: str | None = None, password: str = PASSWORD
    ) -> User:
        name = username or f"{role.value}{next(counter)}"
        user = auth_service.create_user(db, name, password, role)
        db.commit()
        return user

    return make


@pytest.fixture
def admin(make_user: UserFactory) -> User:
    return make_user(Role.admin, "root")


@pytest.fixture
def manager(make_user: UserFactory) -> User:
    return make_user(Role.manager, "mona")


@pytest.fixture
def labeler(make_user: UserFactory) -> User:
    return make_user(Role.labeler, "lena")


ClientFor = Callable[[User], TestClient]


@pytest.fixture
def api_as(app: FastAPI) -> Iterator[ClientFor]:
    """A TestClient that sends a real bearer token obtained from /auth/token."""
    clients: list[TestClient] = []

    def make(user: User) -> TestClient:
        c = TestClient(app, follow_redirects=False)
        clients.append(c)
        resp = c.post("/api/v1/auth/token", data={"username": user.username, "password": PASSWORD})
        assert resp.status_code == 200, resp.text
        c.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"
        return c

    yield make
    for c in clients:
        c.close()


def csrf_from(client: TestClient, path: str = "/login") -> str:
    """The CSRF token a page hands to its forms."""
    html = client.get(path).text
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


@pytest.fixture
def browser_as(app: FastAPI) -> Iterator[ClientFor]:
    """A TestClient logged in through the login form, like a browser."""
    clients: list[TestClient] = []

    def make(user: User) -> TestClient:
        c = TestClient(app, follow_redirects=False)
        clients.append(c)
        token = csrf_from(c)
        resp = c.post(
            "/login",
            data={"username": user.username, "password": PASSWORD, "csrf_token": token},
        )
        assert resp.status_code == 303, resp.text
        return c

    yield make
    for c in clients:
        c.close()


@pytest.fixture
def fresh_sessionmaker(settings: Settings) -> Callable[[], Session]:
    """Sessions on a separate engine: sees only what the app actually committed."""
    engine = make_engine(settings.resolved_database_url)
    return make_sessionmaker(engine)
