"""`curator backup --to-store NAME` / `curator restore --from-store NAME`: the archive kept
in the store as backups/NAME, for installs whose containers have no disk of their own."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from app.cli import cli as curator_cli
from app.config import Settings
from app.migrate import upgrade
from tests.ops.install import FLOWERS, populate, stored_files, table_rows
from tests.ops.test_backup_s3 import _bucket_files, _run
from tests.support.env import require
from tests.support.processes import REPO, curator_cmd, curator_env, wait_for
from tests.support.s3 import S3Server, s3

__all__ = ["s3"]


@pytest.fixture(autouse=True)
def _flowers() -> None:
    require((FLOWERS / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS}")


def _file_install(data_dir: Path) -> tuple[Settings, int]:
    data_dir.mkdir()
    settings = Settings(env="test", data_dir=data_dir, storage_url="file://", database_url=None)
    upgrade(settings.resolved_database_url)
    install = populate(settings, per_species=1)
    return settings, install.run_id


def test_a_backup_kept_in_the_bucket_restores_a_new_install(s3: S3Server, tmp_path: Path) -> None:
    source, _run_id = _file_install(tmp_path / "source")
    archive = tmp_path / "b.tar"
    assert _run(s3, source.data_dir, "file://", "backup", str(archive)).returncode == 0
    live = tmp_path / "live"
    live.mkdir()
    url = f"s3://{s3.bucket}/live"
    assert _run(s3, live, url, "restore", str(archive)).returncode == 0
    rows = table_rows(f"sqlite:///{live / 'curator.db'}")

    made = _run(s3, live, url, "backup", "--to-store", "nightly.tar.gz")
    assert made.returncode == 0, made.stderr
    assert "backups/nightly.tar.gz" in made.stdout
    assert "backups/nightly.tar.gz" in _bucket_files(s3, "live")
    assert [p.name for p in live.iterdir() if p.name.startswith(".")] == []

    # The disk is lost; the bucket's backup is copied where a new install will look.
    client = s3.client()
    client.copy_object(
        Bucket=s3.bucket,
        Key="fresh/backups/nightly.tar.gz",
        CopySource={"Bucket": s3.bucket, "Key": "live/backups/nightly.tar.gz"},
    )
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    fresh_url = f"s3://{s3.bucket}/fresh"
    done = _run(s3, fresh, fresh_url, "restore", "--from-store", "nightly.tar.gz")
    assert done.returncode == 0, done.stderr
    assert table_rows(f"sqlite:///{fresh / 'curator.db'}") == rows
    restored = _bucket_files(s3, "fresh")
    assert restored.pop("backups/nightly.tar.gz")
    assert restored == stored_files(source.data_dir)
    assert [p.name for p in fresh.iterdir() if p.name.startswith(".")] == []

    missing = _run(s3, tmp_path / "none", fresh_url, "restore", "--from-store", "nope.tar")
    assert missing.returncode == 1
    assert "there is no backup backups/nope.tar" in missing.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["backup"],
        ["backup", "x.tar", "--to-store", "y.tar"],
        ["backup", "--to-store", "../escape.tar"],
        ["backup", "--to-store", "sub/dir.tar"],
        ["backup", "--to-store", ".hidden.tar"],
        ["backup", "--to-store", "notes.txt"],
        ["backup", "--to-store", "a" * 300 + ".tar"],
        ["backup", "--to-store", "name\n.tar"],
        ["restore"],
        ["restore", "--from-store", "../../etc/passwd"],
        ["restore", "x.tar", "--from-store", "y.tar"],
    ],
)
def test_a_malformed_or_hostile_store_name_is_refused(args: list[str], tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    upgrade(f"sqlite:///{data_dir / 'curator.db'}")
    env = {"CURATOR_DATA_DIR": str(data_dir), "CURATOR_ENV": "test"}
    result = CliRunner().invoke(curator_cli, args, env=env)
    assert result.exit_code == 1, result.output
    assert not (data_dir / "backups").exists()
    assert not (tmp_path / "escape.tar").exists()


def test_a_backup_to_the_store_killed_mid_way_leaves_nothing_and_runs_again(
    tmp_path: Path,
) -> None:
    settings, run_id = _file_install(tmp_path / "data")
    # A model big enough that compressing it takes seconds: the kill lands mid-archive.
    big = settings.data_dir / "models" / str(run_id) / "weights.bin"
    big.write_bytes(np.random.default_rng(3).bytes(80 * 2**20))
    env = curator_env(settings.data_dir, CURATOR_STORAGE_URL="file://")
    proc = subprocess.Popen(
        curator_cmd("backup", "--to-store", "big.tar.gz"),
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    work = settings.data_dir / f".stored-backup-{proc.pid}"
    try:
        wait_for(
            lambda: any(p.stat().st_size > 2**20 for p in work.glob("*.archive")),
            timeout=120,
            what="the archive being written",
        )
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert work.is_dir(), "the kill came after the end"
    assert not (settings.data_dir / "backups" / "big.tar.gz").exists()

    again = subprocess.run(
        curator_cmd("backup", "--to-store", "big.tar.gz"),
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert not work.exists(), "the killed run's work folder was left"
    assert [p.name for p in settings.data_dir.iterdir() if p.name.startswith(".stored")] == []
    stored = settings.data_dir / "backups" / "big.tar.gz"
    with tarfile.open(stored) as tar:
        names = tar.getnames()
        weights = tar.extractfile(f"files/models/{run_id}/weights.bin")
        assert weights is not None
        digest = hashlib.sha256(weights.read()).hexdigest()
    assert names[-1] == "manifest.json"
    assert digest == hashlib.sha256(big.read_bytes()).hexdigest()
