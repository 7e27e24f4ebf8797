"""A real `curator worker` publishes the backbone catalog when it starts, and a worker
killed with -9 leaves a catalog that the next start makes whole again."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from app.config import Settings
from app.db import make_engine
from app.projects.backbone_catalog import BackboneCatalogEntry
from tests.support.processes import curator_cmd, curator_env, running, wait_for
from workers.ml.catalog import entries

pytestmark = pytest.mark.slow


def test_the_worker_publishes_at_start_and_again_after_a_kill(
    settings: Settings, tmp_path: Path
) -> None:
    env = curator_env(settings.data_dir)
    engine = make_engine(settings.resolved_database_url)
    expected = len(entries())

    def published() -> int:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(BackboneCatalogEntry)) or 0)

    log = tmp_path / "worker.log"
    with running(curator_cmd("worker", "--queues", "ml", "--concurrency", "1"), env, log) as proc:
        try:
            wait_for(lambda: published() == expected, timeout=90, what="the catalog")
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{log.read_text()[-3000:]}") from None
        # A name no longer offered (an older timm) and one damaged row, then a crash.
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO backbone_catalog (name, source, published_at) "
                    "VALUES ('tv.gone', 'torchvision', '2026-01-01 00:00:00')"
                )
            )
            conn.execute(
                text("UPDATE backbone_catalog SET input_size = 1 WHERE name = 'tv.resnet18'")
            )
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    log2 = tmp_path / "worker2.log"
    with running(curator_cmd("worker", "--queues", "ml", "--concurrency", "1"), env, log2):

        def repaired() -> bool:
            with engine.connect() as conn:
                size = conn.scalar(
                    text("SELECT input_size FROM backbone_catalog WHERE name = 'tv.resnet18'")
                )
                gone = conn.scalar(
                    text("SELECT count(*) FROM backbone_catalog WHERE name = 'tv.gone'")
                )
            return size == 224 and gone == 0

        try:
            wait_for(repaired, timeout=90, what="the catalog published again")
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{log2.read_text()[-3000:]}") from None
        assert published() == expected
    engine.dispose()
