"""The S3 server fixture, and settings of an install whose files live in its bucket."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.config import Settings
from tests.support.s3 import S3Server, s3

__all__ = ["s3", "s3_settings"]


@pytest.fixture
def s3_settings(s3: S3Server, tmp_path: Path, migrated_sqlite: Path) -> Settings:
    """As tests/conftest.py's ``settings``, with CURATOR_STORAGE_URL=s3://…: a module
    overrides ``settings`` with this to run the app on the bucket."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy(migrated_sqlite, data_dir / "curator.db")
    settings: Settings = s3.settings(
        env="test", data_dir=data_dir, secret_key="test-secret-key-" + "x" * 32
    )
    return settings
