"""`curator gc` with the files in a bucket (a real S3 server: moto's server mode): blobs no
row names are listed, and removed with --delete; named ones and young ones never are."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ops.install import FLOWERS
from tests.ops.test_backup_s3 import _bucket_files, _run, _source
from tests.support.env import require
from tests.support.s3 import S3Server, s3

__all__ = ["s3"]

ORPHANS = (
    "images/ab/cd/ab" + "c" * 62,
    "thumbnails/ab/ab" + "c" * 62 + ".jpg",
    "models/999/model.onnx",
    "embeddings/resnet18/lost.npy",
)


@pytest.fixture(autouse=True)
def _flowers() -> None:
    require((FLOWERS / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS}")


def test_gc_finds_and_removes_only_the_buckets_orphans(s3: S3Server, tmp_path: Path) -> None:
    source, _pid = _source(tmp_path)
    archive = tmp_path / "b.tar"
    assert _run(s3, source.data_dir, "file://", "backup", str(archive)).returncode == 0
    data_dir = tmp_path / "on-s3"
    data_dir.mkdir()
    url = f"s3://{s3.bucket}/gc"
    assert _run(s3, data_dir, url, "restore", str(archive)).returncode == 0
    named = _bucket_files(s3, "gc")
    client = s3.client()
    for key in ORPHANS:
        client.put_object(Bucket=s3.bucket, Key=f"gc/{key}", Body=b"nobody's")

    young = _run(s3, data_dir, url, "gc", "--delete")  # default min age: one hour
    assert young.returncode == 0, young.stderr
    assert f"{len(ORPHANS)} unnamed files are younger" in young.stdout
    assert set(_bucket_files(s3, "gc")) == set(named) | set(ORPHANS)

    dry = _run(s3, data_dir, url, "gc", "--min-age", "0")
    assert dry.returncode == 0, dry.stderr
    listed = {line.strip() for line in dry.stdout.splitlines()}
    assert set(ORPHANS) <= listed
    assert not listed & set(named)
    assert set(_bucket_files(s3, "gc")) == set(named) | set(ORPHANS)

    done = _run(s3, data_dir, url, "gc", "--delete", "--min-age", "0")
    assert done.returncode == 0, done.stderr
    assert f"Deleted {len(ORPHANS)} files" in done.stdout
    assert _bucket_files(s3, "gc") == named


def test_gc_with_the_store_down_says_so_and_deletes_nothing(s3: S3Server, tmp_path: Path) -> None:
    data_dir = tmp_path / "empty"
    data_dir.mkdir()
    url = f"s3://{s3.bucket}/gc"
    assert _run(s3, data_dir, url, "migrate").returncode == 0
    s3.stop()
    try:
        down = _run(s3, data_dir, url, "gc", "--delete", "--min-age", "0")
    finally:
        s3.start()
    assert down.returncode == 1
    assert "unavailable" in down.stderr
    assert "Traceback" not in down.stderr
