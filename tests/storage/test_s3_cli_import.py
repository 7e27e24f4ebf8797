"""`curator import` of a folder into an s3:// store: decoding processes write to the
bucket (the store crosses into them by pickle), and a store that is down stops the import
with its name, the job marked failed and no image rows."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.models import Role
from app.config import Settings
from app.images.models import BatchStatus, Image, ImportBatch
from app.projects import service as projects
from tests.conftest import UserFactory
from tests.images import corpus
from tests.support.processes import curator_cmd, curator_env
from tests.support.s3 import S3Server

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(s3_settings: Settings) -> Settings:
    return s3_settings


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    for i in range(6):
        (root / ("wine" if i % 2 else "beer")).mkdir(parents=True, exist_ok=True)
        (root / ("wine" if i % 2 else "beer") / f"{i}.jpg").write_bytes(corpus.jpeg(seed=80 + i))
    return root


def _import(settings: Settings, s3: S3Server, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**curator_env(settings.data_dir, COLUMNS="200"), **s3.env}
    return subprocess.run(
        curator_cmd("import", *args), env=env, capture_output=True, text=True, timeout=300
    )


def test_a_folder_goes_into_the_bucket_through_two_processes(
    settings: Settings, s3: S3Server, db: Session, make_user: UserFactory, folder: Path
) -> None:
    owner = make_user(Role.admin, "admin")
    projects.create_project(db, owner, "Drinks")
    db.commit()
    done = _import(settings, s3, "Drinks", str(folder), "--labels-from-folders", "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert "6 imported, 0 already in (skipped), 0 errors, 6 labeled" in done.stdout
    assert len([k for k in s3.stored_keys() if k.startswith("images/")]) == 6
    assert not (settings.data_dir / "images").exists()


def test_a_store_that_is_down_stops_the_import_by_name_with_nothing_written(
    settings: Settings, s3: S3Server, db: Session, make_user: UserFactory, folder: Path
) -> None:
    owner = make_user(Role.admin, "admin")
    projects.create_project(db, owner, "Drinks")
    db.commit()
    s3.stop()
    failed = _import(settings, s3, "Drinks", str(folder))
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    assert s3.url in failed.stderr
    assert "again once it is back" in failed.stderr
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Image)) == 0
    batch = db.scalars(select(ImportBatch)).one()
    assert batch.status is BatchStatus.failed
    assert s3.url in (batch.error or "")
