"""Backup and restore with the files in a bucket (a real S3 server: moto's server mode).

The archive stays a local file the operator names; the files it holds are read from, and
restored into, the store CURATOR_STORAGE_URL names. Checked with the real CLI: a file://
install's backup restored into a bucket, that install's backup restored back to file://
with every row and byte as at the start, the app serving from the bucket, a bucket that
is not empty refused, and a store that is down reported without half a result.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.conftest import PASSWORD
from tests.ops.install import CONTENT_DIRS, FLOWERS, populate, stored_files, table_rows
from tests.support.env import require
from tests.support.processes import REPO, curator_cmd, curator_env
from tests.support.s3 import S3Server, s3

__all__ = ["s3"]


@pytest.fixture(autouse=True)
def _flowers() -> None:
    require((FLOWERS / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS}")


def _run(s3: S3Server, data_dir: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    extra = {k: v for k, v in s3.env.items() if k != "CURATOR_STORAGE_URL"}
    return subprocess.run(
        curator_cmd(*args),
        env=curator_env(data_dir, **extra, CURATOR_STORAGE_URL=url),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _bucket_files(s3: S3Server, prefix: str) -> dict[str, str]:
    client, found = s3.client(), {}
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=prefix + "/")
    for page in pages:
        for item in page.get("Contents", ()):
            body = client.get_object(Bucket=s3.bucket, Key=item["Key"])["Body"].read()
            found[item["Key"][len(prefix) + 1 :]] = hashlib.sha256(body).hexdigest()
    return found


def _source(tmp_path: Path) -> tuple[Settings, int]:
    data_dir = tmp_path / "source"
    data_dir.mkdir()
    settings = Settings(env="test", data_dir=data_dir, storage_url="file://", database_url=None)
    from app.migrate import upgrade

    upgrade(settings.resolved_database_url)
    return settings, populate(settings, per_species=2).project_id


def test_a_backup_restores_into_a_bucket_and_back_with_every_row_and_byte(
    s3: S3Server, tmp_path: Path
) -> None:
    source, pid = _source(tmp_path)
    archive = tmp_path / "b.tar"
    assert _run(s3, source.data_dir, "file://", "backup", str(archive)).returncode == 0

    in_bucket = tmp_path / "in-bucket"
    in_bucket.mkdir()
    url = f"s3://{s3.bucket}/restored"
    done = _run(s3, in_bucket, url, "restore", str(archive))
    assert done.returncode == 0, done.stderr
    assert _bucket_files(s3, "restored") == stored_files(source.data_dir)
    assert not any((in_bucket / d).exists() for d in CONTENT_DIRS), "files went to the disk"
    assert table_rows(f"sqlite:///{in_bucket / 'curator.db'}") == table_rows(
        source.resolved_database_url
    )
    _serves_from(
        Settings(env="test", data_dir=in_bucket, storage_url=url, s3_endpoint_url=s3.endpoint),
        pid,
    )

    # The bucket install's own backup reads its files from the bucket.
    again = tmp_path / "again.tar.gz"
    rows = table_rows(f"sqlite:///{in_bucket / 'curator.db'}")  # logins above added some
    made = _run(s3, in_bucket, url, "backup", str(again))
    assert made.returncode == 0, made.stderr
    back = tmp_path / "back"
    back.mkdir()
    assert _run(s3, back, "file://", "restore", str(again)).returncode == 0
    assert stored_files(back) == stored_files(source.data_dir)
    assert table_rows(f"sqlite:///{back / 'curator.db'}") == rows


def _serves_from(settings: Settings, pid: int) -> None:
    app = create_app(settings)
    try:
        with TestClient(app) as api:
            token = api.post("/api/v1/auth/token", data={"username": "lena", "password": PASSWORD})
            api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            items = api.get(f"/api/v1/projects/{pid}/images", params={"limit": 500}).json()
            assert items["items"]
            for item in items["items"]:
                got = api.get(f"/api/v1/images/{item['id']}/file")
                assert got.status_code == 200
                assert hashlib.sha256(got.content).hexdigest() == item["sha256"]
    finally:
        app.state.engine.dispose()


def test_a_bucket_that_holds_files_is_not_restored_into(s3: S3Server, tmp_path: Path) -> None:
    source, _pid = _source(tmp_path)
    archive = tmp_path / "b.tar"
    assert _run(s3, source.data_dir, "file://", "backup", str(archive)).returncode == 0
    s3.client().put_object(Bucket=s3.bucket, Key="used/images/ab/cd/x", Body=b"someone's")
    target = tmp_path / "target"
    target.mkdir()
    refused = _run(s3, target, f"s3://{s3.bucket}/used", "restore", str(archive))
    assert refused.returncode == 1
    assert "not empty" in refused.stderr
    assert f"s3://{s3.bucket}/used" in refused.stderr
    assert list(_bucket_files(s3, "used")) == ["images/ab/cd/x"]
    assert not (target / "curator.db").exists()


def test_a_store_that_is_down_fails_backup_and_restore_cleanly(
    s3: S3Server, tmp_path: Path
) -> None:
    source, _pid = _source(tmp_path)
    archive = tmp_path / "b.tar"
    assert _run(s3, source.data_dir, "file://", "backup", str(archive)).returncode == 0
    on_s3 = tmp_path / "on-s3"
    on_s3.mkdir()
    url = f"s3://{s3.bucket}/up"
    assert _run(s3, on_s3, url, "restore", str(archive)).returncode == 0
    target = tmp_path / "target"
    target.mkdir()
    s3.stop()
    try:
        backed = _run(s3, on_s3, url, "backup", str(tmp_path / "never.tar"))
        restored = _run(s3, target, f"s3://{s3.bucket}/down", "restore", str(archive))
    finally:
        s3.start()
    assert backed.returncode == 1
    assert "unavailable" in backed.stderr
    assert "Traceback" not in backed.stderr
    assert not (tmp_path / "never.tar").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".never")] == []
    assert restored.returncode == 1
    assert "unavailable" in restored.stderr
    assert "Traceback" not in restored.stderr
    assert not (target / "curator.db").exists(), "the database was installed without files"
