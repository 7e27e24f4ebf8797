"""Tasks leave only when the transaction commits, and reach a real worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from celery.result import AsyncResult

from app.broker import make_celery
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.migrate import upgrade
from app.task_names import PING
from app.tasks import enqueue_after_commit
from tests.support.processes import curator_cmd, curator_env, running

pytestmark = pytest.mark.slow


def queued_messages(data: Path) -> list[Path]:
    return list((data / "broker" / "queue").glob("*.msg"))


def test_rollback_sends_nothing_and_commit_reaches_the_worker(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=data, env="test")
    upgrade(settings.resolved_database_url)
    celery = make_celery(settings)
    engine = make_engine(settings.resolved_database_url)
    factory = make_sessionmaker(engine)

    with factory() as session:
        enqueue_after_commit(session, celery, PING, queue="ingest", args=["dropped"])
        session.rollback()
        session.commit()  # a later commit must not resurrect it
    assert queued_messages(data) == []

    with factory() as session:
        task_id = enqueue_after_commit(
            session, celery, PING, queue="ingest", args=["kept"], keep_result=True
        )
        session.flush()
        assert queued_messages(data) == []  # not before the commit
        session.commit()
    assert len(queued_messages(data)) == 1

    with running(curator_cmd("worker"), curator_env(data), tmp_path / "worker.log"):
        reply = AsyncResult(task_id, app=celery).get(timeout=90)
    assert reply["payload"] == "kept"
    engine.dispose()
