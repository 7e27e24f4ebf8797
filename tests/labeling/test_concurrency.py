"""Done when: 20 threads label one project through real HTTP, on SQLite and PostgreSQL,
with zero double leases and zero lost or duplicated annotations."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
import uvicorn
from sqlalchemy import func, insert, select

from app.auth import service as auth
from app.auth.models import Role
from app.config import Settings
from app.db import make_engine, make_sessionmaker, utcnow
from app.images.models import Image, ImageStatus
from app.labeling.models import Annotation
from app.main import create_app
from app.migrate import upgrade
from app.projects import service as projects
from app.projects.models import ProjectRole
from app.taxonomy import service as taxonomy
from app.taxonomy.schemas import CategoryCreate
from tests.db.conftest import empty_database_url  # noqa: F401 - the SQLite/PostgreSQL fixture
from tests.support.processes import free_port

USERS = 20
IMAGES = 300
PASSWORD = "swarm " + "password"


def _arrange(url: str) -> tuple[int, int]:
    upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        boss = auth.create_user(session, "boss", PASSWORD, Role.admin)
        project = projects.create_project(session, boss, "Swarm")
        category = taxonomy.create_category(session, project, CategoryCreate(name="thing"))
        for n in range(USERS):
            auth.create_user(session, f"user{n}", PASSWORD, Role.labeler)
            projects.add_member(session, project, f"user{n}", ProjectRole.labeler)
        rows = [
            {"project_id": project.id, "sha256": hashlib.sha256(str(i).encode()).hexdigest(),
             "filename": f"{i}.jpg", "format": "jpeg", "width": 10, "height": 10,
             "orientation": 1, "size_bytes": 100, "phash": "0" * 16,
             "thumbnail_mime": "image/jpeg", "status": ImageStatus.unlabeled,
             "dup_checked": True, "created_at": utcnow()}
            for i in range(IMAGES)
        ]  # fmt: skip
        session.execute(insert(Image), rows)
        session.commit()
        ids = project.id, category.category.id
    engine.dispose()
    return ids


@pytest.fixture
def server(empty_database_url: str, tmp_path: Path) -> Iterator[tuple[str, str, int, int]]:  # noqa: F811
    pid, cid = _arrange(empty_database_url)
    settings = Settings(
        env="test", data_dir=tmp_path, database_url=empty_database_url,
        secret_key="swarm-" + "x" * 40,
    )  # fmt: skip
    app = create_app(settings)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield base, empty_database_url, pid, cid
    finally:
        uv.should_exit = True
        thread.join(10)
        app.state.engine.dispose()


def test_twenty_labelers_at_once(server: tuple[str, str, int, int]) -> None:
    base, url, pid, cid = server
    served: list[tuple[int, str, float, float]] = []  # image, user, served at, released at
    created: list[int] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(USERS)

    def labeler(n: int) -> None:
        name = f"user{n}"
        with httpx.Client(base_url=base, timeout=60) as client:
            token = client.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD})
            client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            start.wait()
            while True:
                resp = client.get(f"/api/v1/projects/{pid}/queue/next")
                got_at = time.monotonic()
                if resp.status_code == 204:
                    return
                if resp.status_code != 200:
                    failures.append(f"next {resp.status_code} {resp.text}")
                    return
                image_id = resp.json()["image_id"]
                key = uuid.uuid4().hex
                ids = set()
                # Every third annotation is sent twice, as a client retrying would.
                for _ in range(2 if image_id % 3 == 0 else 1):
                    post = client.post(
                        f"/api/v1/images/{image_id}/annotations",
                        json={"category_id": cid},
                        headers={"Idempotency-Key": key},
                    )
                    if post.status_code not in (200, 201):
                        failures.append(f"post {post.status_code} {post.text}")
                        return
                    ids.add(post.json()["id"])
                done_at = time.monotonic()
                with lock:
                    served.append((image_id, name, got_at, done_at))
                    created.extend(ids)
                if len(ids) != 1:
                    failures.append(f"a retry stored a second annotation for {image_id}")

    threads = [threading.Thread(target=labeler, args=(n,)) for n in range(USERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not failures, failures[:5]

    # Zero double leases: an image is served to one labeler only (overlap is 0), and no
    # two holds of the same image overlap in time.
    by_image: dict[int, list[tuple[int, str, float, float]]] = {}
    for row in served:
        by_image.setdefault(row[0], []).append(row)
    doubles = {i: rows for i, rows in by_image.items() if len(rows) > 1}
    assert not doubles
    assert len(by_image) == IMAGES
    assert len({user for _, user, _, _ in served}) > 1  # the work was really shared

    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        stored = set(session.scalars(select(Annotation.id)))
        per_image = dict(
            session.execute(
                select(Annotation.image_id, func.count()).group_by(Annotation.image_id)
            ).all()
        )
        left = session.scalar(select(func.count()).where(Image.status != ImageStatus.labeled))
    engine.dispose()
    assert set(created) <= stored  # zero lost: every 201 is in the database
    assert len(stored) == IMAGES  # zero duplicates, retries included
    assert set(per_image.values()) == {1}
    assert left == 0
