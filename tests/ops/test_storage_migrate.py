"""`curator storage migrate --to s3://…` against a real S3 server (moto's server mode).

The command runs as a real process. What an operator checks: every file is in the bucket
with the same bytes, the app then serves from the bucket with the data dir's copies gone,
a migration killed with -9 finishes when run again, a corrupted object is copied again,
and a store that is down or a malformed --to gets a clear refusal.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import cli as curator_cli
from app.config import Settings
from app.main import create_app
from app.ops.storage_migrate import MIGRATED_DIRS
from tests.conftest import PASSWORD
from tests.ops.install import FLOWERS, populate
from tests.support.env import require
from tests.support.processes import REPO, curator_cmd, curator_env, wait_for
from tests.support.s3 import S3Server, s3

__all__ = ["s3"]


def _env(s3: S3Server, data_dir: Path) -> dict[str, str]:
    """A file:// install whose process can reach the S3 server."""
    extra = {k: v for k, v in s3.env.items() if k != "CURATOR_STORAGE_URL"}
    return curator_env(data_dir, **extra, CURATOR_STORAGE_URL="file://")


def _migrate(
    s3: S3Server, data_dir: Path, *args: str, to: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        curator_cmd("storage", "migrate", "--to", to or s3.url, *args),
        env=_env(s3, data_dir),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def local_files(data_dir: Path) -> dict[str, str]:
    """key -> sha256 of every file under the migrated folders."""
    found = {}
    for folder in MIGRATED_DIRS:
        for path in sorted((data_dir / folder).rglob("*")):
            if path.is_file():
                found[path.relative_to(data_dir).as_posix()] = hashlib.sha256(
                    path.read_bytes()
                ).hexdigest()
    return found


def bucket_files(s3: S3Server) -> dict[str, str]:
    client = s3.client()
    found = {}
    for key in list(s3.keys()):
        body = client.get_object(Bucket=s3.bucket, Key=f"{s3.prefix}/{key}")["Body"].read()
        found[key] = hashlib.sha256(body).hexdigest()
    return found


def _blobs(data_dir: Path, count: int, size: int) -> None:
    """``count`` originals of ``size`` random bytes, where the store keeps them."""
    for _ in range(count):
        data = os.urandom(size)
        sha = hashlib.sha256(data).hexdigest()
        path = data_dir / "images" / sha[:2] / sha[2:4] / sha
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def test_after_a_migration_the_app_serves_every_image_from_the_bucket(
    s3: S3Server, tmp_path: Path
) -> None:
    require((FLOWERS / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS}")
    data_dir = tmp_path / "install"
    data_dir.mkdir()
    source = Settings(env="test", data_dir=data_dir, storage_url="file://", database_url=None)
    migrated = subprocess.run(
        curator_cmd("migrate"), env=_env(s3, data_dir), cwd=REPO, check=False, timeout=120
    )
    assert migrated.returncode == 0
    install = populate(source, per_species=2)
    for extra in ("maps/1/map.json", "saliency/1/9-2.png"):
        (data_dir / extra).parent.mkdir(parents=True, exist_ok=True)
        (data_dir / extra).write_bytes(os.urandom(500))
    expected = local_files(data_dir)
    assert any(k.startswith("models/") for k in expected)
    assert any(k.startswith("embeddings/") for k in expected)

    done = _migrate(s3, data_dir)
    assert done.returncode == 0, done.stderr
    assert f"CURATOR_STORAGE_URL={s3.url}" in done.stdout
    assert f"CURATOR_S3_ENDPOINT_URL={s3.endpoint}" in done.stdout
    assert f"Copied {len(expected)} files" in done.stdout
    assert bucket_files(s3) == expected

    # The data dir's copies go: whatever the app serves now comes from the bucket.
    for folder in MIGRATED_DIRS:
        shutil.rmtree(data_dir / folder, ignore_errors=True)
    settings = Settings(
        env="test",
        data_dir=data_dir,
        storage_url=s3.url,
        s3_endpoint_url=s3.endpoint,
        database_url=None,
    )
    app = create_app(settings)
    try:
        with TestClient(app) as api:
            token = api.post("/api/v1/auth/token", data={"username": "lena", "password": PASSWORD})
            api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            page = api.get(f"/api/v1/projects/{install.project_id}/images", params={"limit": 500})
            items = page.json()["items"]
            assert len(items) == len(install.image_ids)
            for item in items:
                original = api.get(f"/api/v1/images/{item['id']}/file")
                assert original.status_code == 200
                assert hashlib.sha256(original.content).hexdigest() == item["sha256"]
                thumb = api.get(f"/api/v1/images/{item['id']}/thumbnail")
                assert thumb.status_code == 200
                assert thumb.content[:3] in (b"\xff\xd8\xff", b"RIF")
    finally:
        app.state.engine.dispose()


def test_a_second_run_copies_nothing_and_says_so(s3: S3Server, tmp_path: Path) -> None:
    _blobs(tmp_path, 5, 1000)
    assert _migrate(s3, tmp_path).returncode == 0
    again = _migrate(s3, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "Copied 0 files" in again.stdout
    assert "5 were in the bucket already" in again.stdout
    assert bucket_files(s3) == local_files(tmp_path)


def test_a_migration_killed_mid_way_finishes_when_run_again(s3: S3Server, tmp_path: Path) -> None:
    total = 400
    _blobs(tmp_path, total, 20_000)
    proc = subprocess.Popen(
        curator_cmd("storage", "migrate", "--to", s3.url, "--jobs", "1"),
        env=_env(s3, tmp_path),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: len(s3.keys()) >= 20, timeout=120, what="the first objects")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    present = len(s3.keys())
    assert 20 <= present < total, "the kill came too late to be mid-way"

    resumed = _migrate(s3, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"Copied {total - present} files" in resumed.stdout
    assert f"{present} were in the bucket already" in resumed.stdout
    assert bucket_files(s3) == local_files(tmp_path)


def test_a_corrupted_or_missing_object_is_copied_again(s3: S3Server, tmp_path: Path) -> None:
    _blobs(tmp_path, 6, 3000)
    assert _migrate(s3, tmp_path).returncode == 0
    keys = s3.keys()
    client = s3.client()
    # Same size, other bytes: only the hash tells.
    client.put_object(Bucket=s3.bucket, Key=f"{s3.prefix}/{keys[0]}", Body=os.urandom(3000))
    client.put_object(Bucket=s3.bucket, Key=f"{s3.prefix}/{keys[1]}", Body=b"short")
    client.delete_object(Bucket=s3.bucket, Key=f"{s3.prefix}/{keys[2]}")
    assert bucket_files(s3) != local_files(tmp_path)

    repaired = _migrate(s3, tmp_path)
    assert repaired.returncode == 0, repaired.stderr
    assert "Copied 3 files" in repaired.stdout
    assert "3 were in the bucket already" in repaired.stdout
    assert bucket_files(s3) == local_files(tmp_path)


def test_a_store_that_is_down_gets_a_clear_error(s3: S3Server, tmp_path: Path) -> None:
    _blobs(tmp_path, 3, 1000)
    s3.stop()
    try:
        down = _migrate(s3, tmp_path)
    finally:
        s3.start()
    assert down.returncode == 1
    assert "is unavailable" in down.stderr
    assert s3.endpoint in down.stderr
    assert "Traceback" not in down.stderr
    assert s3.keys() == []


def test_a_bucket_that_does_not_exist_gets_a_clear_error(s3: S3Server, tmp_path: Path) -> None:
    _blobs(tmp_path, 2, 1000)
    missing = _migrate(s3, tmp_path, to="s3://no-such-bucket-here/x")
    assert missing.returncode == 1
    assert "NoSuchBucket" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_a_killed_exports_leftover_is_reported_not_copied(s3: S3Server, tmp_path: Path) -> None:
    _blobs(tmp_path, 2, 1000)
    leftover = tmp_path / "models" / ".7.partial" / "model.onnx"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half")
    done = _migrate(s3, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "models/.7.partial/model.onnx" in done.stderr
    stored = s3.keys()
    assert len(stored) == 2
    assert all(k.startswith("images/") for k in stored)


@pytest.mark.parametrize(
    "to",
    [
        "file:///tmp/elsewhere",
        "http://bucket/x",
        "S3://bucket",
        "s3://",
        "s3:///prefix",
        "s3://../etc",
        "s3://{bucket}/../../etc",
        "s3://{bucket}/a/./b",
        "s3://{bucket}/.hidden",
        "s3://{bucket}//x",
        "s3://key:secret@{bucket}/x",
        "s3://{bucket}:9000/x",
        "s3://{bucket}/x?acl",
        "s3://{bucket}/x#frag",
        "s3://{bucket}/pre fix",
        "s3://{bucket}/a\tb",
        "s3://Upper_Case/x",
        "s3://ab",
        "s3://" + "a" * 64,
        "s3://{bucket}/" + "p/" * 3000,
    ],
)
def test_a_malformed_or_hostile_target_is_refused(s3: S3Server, tmp_path: Path, to: str) -> None:
    _blobs(tmp_path, 1, 100)
    env = {k: v for k, v in _env(s3, tmp_path).items() if k.startswith(("CURATOR_", "AWS_"))}
    result = CliRunner().invoke(
        curator_cli, ["storage", "migrate", "--to", to.replace("{bucket}", s3.bucket)], env=env
    )
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert s3.keys() == []


def test_an_install_already_on_s3_is_refused(s3: S3Server, tmp_path: Path) -> None:
    env = {**_env(s3, tmp_path), "CURATOR_STORAGE_URL": s3.url}
    done = subprocess.run(
        curator_cmd("storage", "migrate", "--to", s3.url),
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "already" in done.stderr
