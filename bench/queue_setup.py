"""What bench/labeling_queue.py runs against: the database and broker (SQLite and the
filesystem broker, or PostgreSQL and a redis-server started as the tests start them),
the rows, the web processes, and the CPU they use.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import insert, select, text, update

from app.auth import service as auth
from app.auth.models import Role
from app.config import Settings
from app.db import make_engine, make_sessionmaker, utcnow
from app.images.models import Image, ImageStatus
from app.labeling.models import Annotation, AnnotationSource, Lease
from app.migrate import upgrade
from app.projects import service as projects
from app.projects.models import Project, ProjectRole
from app.taxonomy import service as taxonomy
from app.taxonomy.schemas import CategoryCreate
from tests.support.processes import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench " + "password"
SECRET_KEY = "bench-" + "x" * 40


@contextmanager
def backends(data: Path, database: str, broker: str) -> Iterator[dict[str, str]]:
    """The CURATOR_* variables of the chosen database and broker, started for the run."""
    env: dict[str, str] = {}
    with ExitStack() as stack:
        if database == "postgresql":
            from tests.support.postgres import DEFAULT_PG, postgres_database

            admin = os.environ.get("CURATOR_TEST_POSTGRES_URL", DEFAULT_PG)
            env["CURATOR_DATABASE_URL"] = stack.enter_context(postgres_database(admin))
        if broker == "redis":
            env["CURATOR_BROKER_URL"] = stack.enter_context(redis_server(data.parent))
        yield env


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed: apt-get install redis-server")
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(workdir)]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        wait_for(client.ping, timeout=20, what="redis-server to answer PING")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        proc.terminate()
        proc.wait(20)


def settings_for(data: Path, env: dict[str, str]) -> Settings:
    return Settings(
        env="test",
        data_dir=data,
        secret_key=SECRET_KEY,
        database_url=env.get("CURATOR_DATABASE_URL"),
        broker_url=env.get("CURATOR_BROKER_URL", "filesystem://"),
    )


def populate(
    settings: Settings, count: int, users: int, every: int, classes: int = 1
) -> tuple[int, tuple[int, ...]]:
    """One project of ``count`` unlabeled images with ``classes`` categories. With one,
    every auto-train attempt (every ``every`` labels) is refused: too few classes; with
    two or more, the first attempt starts a run, which stays queued (the bench runs no
    worker), so the later attempts find it active."""
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    with make_sessionmaker(engine)() as session:
        boss = auth.create_user(session, "bench", SECRET, Role.admin)
        project = projects.create_project(session, boss, "Bench")
        project.auto_train_every = every
        categories = [
            taxonomy.create_category(session, project, CategoryCreate(name=f"thing {n}"))
            for n in range(classes)
        ]
        for n in range(users):
            auth.create_user(session, f"annotator{n}", SECRET, Role.labeler)
            projects.add_member(session, project, f"annotator{n}", ProjectRole.labeler)
        now = utcnow()
        rows = [
            {"project_id": project.id, "sha256": hashlib.sha256(str(i).encode()).hexdigest(),
             "filename": f"photos/{i:06d}.jpg", "format": "jpeg", "width": 500, "height": 375,
             "orientation": 1, "size_bytes": 40_000, "phash": f"{i:016x}",
             "thumbnail_mime": "image/jpeg", "status": ImageStatus.unlabeled,
             "dup_checked": True, "created_at": now}
            for i in range(count)
        ]  # fmt: skip
        for start in range(0, len(rows), 10_000):
            session.execute(insert(Image), rows[start : start + 10_000])
        session.commit()
        ids = project.id, tuple(c.category.id for c in categories)
    engine.dispose()
    return ids


def label_directly(
    settings: Settings, project_id: int, category_ids: tuple[int, ...], upto: int
) -> int:
    """Label the next unlabeled images (lowest ids first, as the queue serves them) until
    ``upto`` are labeled, by inserting their annotations (the database's trigger sets
    each image's label). Between measured windows: the server is idle. Returns the
    labeled count."""
    engine = make_engine(settings.resolved_database_url)
    with make_sessionmaker(engine)() as session:
        labeled = select(Image.id).where(
            Image.project_id == project_id, Image.status == ImageStatus.labeled
        )
        have = len(session.scalars(labeled).all())
        wanted = max(0, upto - have)
        held = select(Lease.image_id)
        ids = session.scalars(
            select(Image.id)
            .where(Image.project_id == project_id, Image.status == ImageStatus.unlabeled)
            .where(Image.id.notin_(held))
            .order_by(Image.id)
            .limit(wanted)
        ).all()
        users = session.scalars(
            text("SELECT user_id FROM memberships WHERE project_id = :p").bindparams(p=project_id)
        ).all()
        now = utcnow()
        rows = [
            {"project_id": project_id, "image_id": image_id, "user_id": users[n % len(users)],
             "category_id": category_ids[image_id % len(category_ids)], "rejected": False,
             "source": AnnotationSource.manual,
             "second_opinion": False, "created_at": now}
            for n, image_id in enumerate(ids)
        ]  # fmt: skip
        for start in range(0, len(rows), 5_000):
            session.execute(insert(Annotation), rows[start : start + 5_000])
        session.commit()
        total = have + len(ids)
    engine.dispose()
    return total


def set_auto_train(settings: Settings, project_id: int, every: int) -> None:
    engine = make_engine(settings.resolved_database_url)
    with make_sessionmaker(engine)() as session:
        session.execute(
            update(Project).where(Project.id == project_id).values(auto_train_every=every)
        )
        session.commit()
    engine.dispose()


def serve(data: Path, env: dict[str, str], processes: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "queue_server:make", "--factory",
        "--app-dir", str(ROOT / "bench"), "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(processes), "--log-level", "warning",
    ]  # fmt: skip
    full = {**os.environ, **env, "CURATOR_BENCH_DATA": str(data)}
    proc = subprocess.Popen(command, env=full)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        return httpx.get(f"{base}/api/v1/health").status_code == 200

    try:
        wait_for(up, timeout=60, what="the bench server")
    except TimeoutError:
        proc.kill()
        raise
    return proc, base


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its children (uvicorn's worker
    processes), from Linux's /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(child)) for child in children)


def database_pids(settings: Settings) -> list[int]:
    """PostgreSQL's backends serving the bench database (their CPU is the database's
    share of a decision); none on SQLite, whose work runs inside the web processes."""
    url = settings.resolved_database_url
    if not url.startswith("postgresql"):
        return []
    engine = make_engine(url)
    with engine.connect() as conn:
        pids = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
        ).scalars()
        found = list(pids)
    engine.dispose()
    return found
