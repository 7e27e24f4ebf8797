"""`kill -9` of a backup or a restore half-way: no half archive, no half install.

A large model file keeps each command busy long enough to be killed while it streams.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.migrate import upgrade
from app.projects.models import Project
from app.training.models import RunMode, RunStatus, TrainingRun
from tests.ops.conftest import env_for
from tests.ops.install import stored_files
from tests.support.processes import REPO, curator_cmd, wait_for

pytestmark = pytest.mark.slow
MODEL_BYTES = 96 * 2**20  # random, so gzip gains nothing and works for seconds


def _big_install(data_dir: Path) -> Settings:
    data_dir.mkdir()
    settings = Settings(env="test", data_dir=data_dir)
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    with make_sessionmaker(engine)() as db:
        project = Project(name="Big", name_key="big")
        db.add(project)
        db.flush()
        run = TrainingRun(
            project_id=project.id,
            mode=RunMode.linear,
            backbone="efficientnet_lite0",
            status=RunStatus.succeeded,
        )
        db.add(run)
        db.commit()
        folder = data_dir / "models" / str(run.id)
    engine.dispose()
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(np.random.default_rng(0).bytes(MODEL_BYTES))
    return settings


def _start(settings: Settings, *args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            curator_cmd(*args),
            env=env_for(settings),
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _kill_when(
    proc: subprocess.Popen[bytes], ready: Callable[[], bool], what: str, log: Path
) -> None:
    try:
        wait_for(lambda: proc.poll() is not None or ready(), timeout=120, interval=0.02, what=what)
    except TimeoutError as exc:
        proc.kill()
        raise AssertionError(f"{exc}\n{log.read_text()}") from None
    assert proc.poll() is None, f"finished before it could be killed:\n{log.read_text()}"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


def _run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        curator_cmd(*args), env=env_for(settings), cwd=REPO, capture_output=True, text=True
    )


def _size(folder: Path, pattern: str) -> int:
    return sum(p.stat().st_size for p in folder.glob(pattern) if p.is_file())


def test_a_killed_backup_leaves_no_archive_and_the_next_run_cleans_up(tmp_path: Path) -> None:
    settings = _big_install(tmp_path / "data")
    out_dir = tmp_path / "backups"
    out_dir.mkdir()
    final = out_dir / "nightly.tar.gz"
    log = tmp_path / "backup.log"
    proc = _start(settings, "backup", str(final), log=log)
    _kill_when(
        proc,
        lambda: _size(out_dir, f".nightly.tar.gz.tmp-{proc.pid}.archive") > 4 * 2**20,
        "the backup to stream the model file",
        log,
    )
    assert not final.exists()
    # What is left is hidden and says what it is and whose it was.
    left = sorted(p.name for p in out_dir.iterdir())
    assert left, "the killed backup left nothing to clean: it was not killed mid-way"
    assert all(n.startswith(f".nightly.tar.gz.tmp-{proc.pid}.") for n in left), left

    again = _run(settings, "backup", str(final))
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in out_dir.iterdir()) == ["nightly.tar.gz"]
    # The second archive is whole: it restores, model file and all.
    target = Settings(env="test", data_dir=tmp_path / "restored")
    restored = _run(target, "restore", str(final))
    assert restored.returncode == 0, restored.stderr
    assert stored_files(target.data_dir) == stored_files(settings.data_dir)


def test_a_killed_restore_changes_nothing_and_can_be_run_again(tmp_path: Path) -> None:
    settings = _big_install(tmp_path / "data")
    archive = tmp_path / "b.tar"
    made = _run(settings, "backup", str(archive))
    assert made.returncode == 0, made.stderr
    target = Settings(env="test", data_dir=tmp_path / "restored")
    log = tmp_path / "restore.log"
    proc = _start(target, "restore", str(archive), log=log)
    staging = target.data_dir / f".restore-{proc.pid}"
    _kill_when(
        proc,
        lambda: _size(staging, "files/models/*/*") > 4 * 2**20,
        "the restore to unpack the model file",
        log,
    )
    # Killed while unpacking: the target has no database and no files, only the
    # clearly named staging folder.
    assert [p.name for p in target.data_dir.iterdir()] == [staging.name]

    again = _run(target, "restore", str(archive))  # still empty: no --force needed
    assert again.returncode == 0, again.stderr
    assert not list(target.data_dir.glob(".restore-*"))
    assert stored_files(target.data_dir) == stored_files(settings.data_dir)
