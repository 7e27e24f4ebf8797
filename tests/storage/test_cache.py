"""The worker's blob cache: the store's own files on file://, LRU copies from a bucket."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.blobs import open_store
from app.blobs.cache import TMP_PREFIX, BlobCache
from app.blobs.local import FileStore
from tests.support.processes import REPO, wait_for
from tests.support.s3 import S3Server

KB = 1024


def _files(folder: Path) -> list[str]:
    """Every file under folder (temporary ones included), relative, sorted."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_a_file_store_hands_out_its_own_files_and_copies_nothing(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "data")
    store.put_bytes("images/ab/cd/abcd", b"original")
    cache = BlobCache(store, tmp_path / "cache", max_bytes=1)
    path = cache.path("images/ab/cd/abcd")
    assert path == tmp_path / "data" / "images" / "ab" / "cd" / "abcd"
    assert path.read_bytes() == b"original"
    assert not (tmp_path / "cache").exists()
    with pytest.raises(FileNotFoundError):
        cache.path("images/no/ne/none")
    # Files written at local_dir are published by being there.
    folder = cache.local_dir("models/4")
    assert folder == tmp_path / "data" / "models" / "4"
    folder.mkdir(parents=True)
    (folder / "model.json").write_text("{}")
    cache.publish("models/4/model.json", folder / "model.json")
    cache.publish_folder("models/4", folder, last="model.json")
    assert _files(tmp_path / "data" / "models") == ["4/model.json"]


def _cache(s3: S3Server, tmp_path: Path, max_bytes: int, **kw: float) -> BlobCache:
    store = open_store(s3.settings(data_dir=tmp_path / "data"))
    return BlobCache(store, tmp_path / "cache", max_bytes, **kw)


def test_a_bucket_blob_is_fetched_once_and_reused(s3: S3Server, tmp_path: Path) -> None:
    cache = _cache(s3, tmp_path, 10 * KB)
    cache.store.put_bytes("images/ab/cd/abcd", b"x" * KB)
    first = cache.path("images/ab/cd/abcd")
    assert first == tmp_path / "cache" / "images" / "ab" / "cd" / "abcd"
    assert first.read_bytes() == b"x" * KB
    cache.store.delete("images/ab/cd/abcd")
    assert cache.path("images/ab/cd/abcd").read_bytes() == b"x" * KB  # the local copy
    with pytest.raises(FileNotFoundError):
        cache.path("images/ef/gh/efgh")
    assert _files(tmp_path / "cache") == ["images/ab/cd/abcd"]  # no staging left behind


def test_least_recently_used_files_go_first_and_the_folder_keeps_its_limit(
    s3: S3Server, tmp_path: Path
) -> None:
    cache = _cache(s3, tmp_path, 3 * KB, min_age=0, rescan_every=0)
    for name in "abcde":
        cache.store.put_bytes(f"images/{name}", name.encode() * KB)
    for name in "abc":
        cache.path(f"images/{name}")
    cache.path("images/a")  # a is used again: b is now the least recently used
    cache.path("images/d")
    assert _files(tmp_path / "cache") == ["images/a", "images/c", "images/d"]
    cache.path("images/e")
    assert _files(tmp_path / "cache") == ["images/a", "images/d", "images/e"]
    held = sum(p.stat().st_size for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert held <= 3 * KB
    assert (tmp_path / "cache" / "images" / "e").read_bytes() == b"e" * KB


def test_files_handed_out_together_are_kept_even_past_the_limit(
    s3: S3Server, tmp_path: Path
) -> None:
    cache = _cache(s3, tmp_path, 2 * KB, min_age=0, rescan_every=0)
    keys = [f"embeddings/b/{n}.npy" for n in range(4)]
    for n, key in enumerate(keys):
        cache.store.put_bytes(key, bytes([n]) * KB)
    paths = cache.paths(keys)
    # The batch is in use: all four stay though the limit is two.
    assert [p.read_bytes() for p in paths] == [bytes([n]) * KB for n in range(4)]
    # The next call may evict the older ones, never the one it hands out.
    again = cache.path(keys[0])
    assert again.read_bytes() == bytes([0]) * KB
    assert len(_files(tmp_path / "cache")) == 2


def test_a_recently_used_file_is_spared_by_other_processes_passes(
    s3: S3Server, tmp_path: Path
) -> None:
    cache = _cache(s3, tmp_path, KB, rescan_every=0)  # min_age: the default minute
    cache.store.put_bytes("images/a", b"a" * KB)
    cache.store.put_bytes("images/b", b"b" * KB)
    cache.path("images/a")
    cache.path("images/b")
    # a was handed out seconds ago: another process may be about to open it.
    assert _files(tmp_path / "cache") == ["images/a", "images/b"]


def test_publish_folder_sends_the_marker_last_and_drops_stale_files(
    s3: S3Server, tmp_path: Path
) -> None:
    cache = _cache(s3, tmp_path, 10 * KB)
    cache.store.put_bytes("models/7/old.onnx", b"from an earlier attempt")
    folder = cache.local_dir("models/7")
    assert folder == tmp_path / "cache" / "models" / "7"
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(b"onnx")
    (folder / "model.json").write_text("{}")
    cache.publish_folder("models/7", folder, last="model.json")
    assert s3.keys("models/") == ["models/7/model.json", "models/7/model.onnx"]
    assert cache.store.get_bytes("models/7/model.onnx") == b"onnx"


_FETCH = textwrap.dedent(
    """
    import hashlib, json, sys
    from pathlib import Path
    from app.blobs import open_store
    from app.blobs.cache import BlobCache
    from app.config import Settings
    cache = BlobCache(open_store(Settings(data_dir=sys.argv[1])), Path(sys.argv[2]), 1 << 30)
    path = cache.path(sys.argv[3])
    print(json.dumps([str(path), hashlib.sha256(path.read_bytes()).hexdigest()]))
    """
)


def test_processes_fetching_the_same_blob_at_once_all_get_it_whole(
    s3: S3Server, tmp_path: Path
) -> None:
    data = os.urandom(4 * KB * KB)
    store = open_store(s3.settings(data_dir=tmp_path / "data"))
    store.put_bytes("images/ab/cd/big", data)
    env = {**os.environ, **s3.env}
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _FETCH,
                str(tmp_path / "data"),
                str(tmp_path / "cache"),
                "images/ab/cd/big",
            ],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    answers = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err.decode()[-2000:]
        answers.append(json.loads(out))
    want = hashlib.sha256(data).hexdigest()
    target = str(tmp_path / "cache" / "images" / "ab" / "cd" / "big")
    assert answers == [[target, want]] * 4
    assert _files(tmp_path / "cache") == ["images/ab/cd/big"]


_KILLED = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    from app.blobs import open_store
    from app.blobs.cache import BlobCache
    from app.config import Settings
    store = open_store(Settings(data_dir=sys.argv[1]))
    real = store.download

    def half_then_hang(key, path):
        data = store.get_bytes(key)
        with open(path, "wb") as out:  # as a client streaming into its file would
            out.write(data[: len(data) // 2])
            out.flush()
        Path(sys.argv[4]).write_text(str(path))
        threading.Event().wait()  # until SIGKILL

    store.download = half_then_hang
    BlobCache(store, Path(sys.argv[2]), 1 << 30).path(sys.argv[3])
    """
)


def test_a_fetch_killed_mid_way_leaves_no_file_that_is_used_later(
    s3: S3Server, tmp_path: Path
) -> None:
    data = os.urandom(256 * KB)
    store = open_store(s3.settings(data_dir=tmp_path / "data"))
    store.put_bytes("embeddings/b/shard.npy", data)
    ready = tmp_path / "ready"
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED, str(tmp_path / "data"), str(tmp_path / "cache"),
         "embeddings/b/shard.npy", str(ready)],
        env={**os.environ, **s3.env}, cwd=REPO, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for(lambda: ready.exists() or child.poll() is not None, timeout=60,
                 what="the child to write half the blob")  # fmt: skip
        assert ready.exists(), child.stderr.read().decode()[-2000:] if child.stderr else ""
    finally:
        child.kill()  # SIGKILL: no cleanup
        child.wait()
        if child.stderr:
            child.stderr.close()
    half = Path(ready.read_text())
    assert half.stat().st_size == len(data) // 2  # the torn bytes are there, aside
    assert half.parent.name.startswith(TMP_PREFIX)
    assert not (tmp_path / "cache" / "embeddings" / "b" / "shard.npy").exists()

    cache = BlobCache(store, tmp_path / "cache", 1 << 30)
    path = cache.path("embeddings/b/shard.npy")
    assert path.read_bytes() == data
    cache.evict()  # the dead process's staging folder goes
    assert _files(tmp_path / "cache") == ["embeddings/b/shard.npy"]
