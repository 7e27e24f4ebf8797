"""A `curator import` killed with -9 half-way leaves files without rows; gc removes them
and leaves exactly the files the rows name."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Role
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.images.models import Image
from app.projects import service as projects
from tests.conftest import UserFactory
from tests.images import corpus
from tests.support.processes import REPO, curator_cmd, curator_env, wait_for

pytestmark = pytest.mark.slow

FILES = 400


def stored_hashes(settings: Settings) -> set[str]:
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_sessionmaker(engine)() as session:
            return set(session.scalars(select(Image.sha256)))
    finally:
        engine.dispose()


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def originals(settings: Settings) -> set[str]:
    return {p.name for p in files_under(settings.data_dir / "images")}


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def import_and_kill(settings: Settings, folder: Path, log: Path) -> None:
    """Start an import and kill it (and its decoding processes) while files outrun rows."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            curator_cmd("import", "Kill", str(folder), "--workers", "2"),
            env=curator_env(settings.data_dir),
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def mid_way() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"the import ended first:\n{log.read_text()}")
            rows = stored_hashes(settings)
            return len(rows) >= 64 and len(originals(settings) - rows) > 0

        wait_for(mid_way, timeout=120, interval=0.05, what="the import to be half-way")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        wait_for(lambda: group_gone(proc.pid), timeout=10, what="the decoding processes to die")


def test_gc_removes_what_a_killed_import_left_and_only_that(
    settings: Settings, db: Session, make_user: UserFactory, tmp_path: Path
) -> None:
    owner = make_user(Role.admin, "admin")
    projects.create_project(db, owner, "Kill")
    db.commit()
    folder = tmp_path / "photos"
    folder.mkdir()
    base = corpus.photo(seed=1000)
    for i in range(FILES):
        # One photo with a marked corner per file: distinct content, quick to make.
        marked = base.copy()
        marked.paste((i % 256, i // 256 * 60, 255 - i % 256), (0, 0, 16, 16))
        (folder / f"img{i:04d}.jpg").write_bytes(corpus.encode(marked, "JPEG", quality=90))

    for attempt in range(3):
        import_and_kill(settings, folder, tmp_path / f"import-{attempt}.log")
        orphaned = originals(settings) - stored_hashes(settings)
        if orphaned:
            break
    assert orphaned, "three kills in a row left no file without its row"
    rows = stored_hashes(settings)
    assert 0 < len(rows) < FILES

    env = curator_env(settings.data_dir, COLUMNS="200")
    dry = subprocess.run(
        curator_cmd("gc", "--min-age", "0"), env=env, capture_output=True, text=True, timeout=120
    )
    assert dry.returncode == 0, dry.stderr
    for sha in orphaned:
        assert sha in dry.stdout
    assert originals(settings) >= orphaned  # a dry run deletes nothing

    done = subprocess.run(
        curator_cmd("gc", "--delete", "--min-age", "0"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # Every file left is named by a row, and every row's files are there.
    assert originals(settings) == rows
    thumbnails = files_under(settings.data_dir / "thumbnails")
    assert {p.name.partition(".")[0] for p in thumbnails} == rows
    assert len(thumbnails) == len(rows)
    assert not any(p.name.startswith(".tmp-") for p in files_under(settings.data_dir))
