"""S3Store against a real S3 server (moto): the BlobStore contract, errors, presigning."""

from __future__ import annotations

import time
from pathlib import Path

import httpx2 as httpx
import pytest

from app.blobs import StoreUnavailable, open_store
from app.blobs.s3 import S3Store
from tests.support.s3 import S3Server


@pytest.fixture
def store(s3: S3Server, tmp_path: Path) -> S3Store:
    opened = open_store(s3.settings(data_dir=tmp_path))
    assert isinstance(opened, S3Store)
    return opened


def test_put_get_range_info_list_delete(store: S3Store, s3: S3Server, tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    store.put_bytes("images/ab/cd/blob", data)
    assert s3.stored_keys() == ["images/ab/cd/blob"]  # under the install's prefix
    assert store.get_bytes("images/ab/cd/blob") == data
    assert store.read_range("images/ab/cd/blob", 10, 19) == data[10:20]
    assert store.read_range("images/ab/cd/blob", len(data) - 5, len(data) - 1) == data[-5:]
    with store.open("images/ab/cd/blob") as f:
        assert f.read(3) == data[:3]
        assert f.read() == data[3:]
    info = store.info("images/ab/cd/blob")
    assert info is not None
    assert info.size == len(data)
    assert info.key == "images/ab/cd/blob"
    assert abs(info.mtime - time.time()) < 120
    assert store.info("images/ab/cd/other") is None

    source = tmp_path / "model.onnx"
    source.write_bytes(b"onnx" * 1000)
    store.put_file("models/3/model.onnx", source)
    store.download("models/3/model.onnx", tmp_path / "copy" / "model.onnx")
    assert (tmp_path / "copy" / "model.onnx").read_bytes() == source.read_bytes()
    assert sorted(i.key for i in store.list("models/")) == ["models/3/model.onnx"]
    assert sorted(i.key for i in store.list("")) == ["images/ab/cd/blob", "models/3/model.onnx"]

    store.delete("images/ab/cd/blob")
    store.delete("images/ab/cd/blob")  # already gone: no error
    assert store.info("images/ab/cd/blob") is None
    assert store.local_path("models/3/model.onnx") is None


def test_missing_keys_are_file_not_found(store: S3Store, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        store.get_bytes("images/no/ne/x")
    with pytest.raises(FileNotFoundError):
        store.read_range("images/no/ne/x", 0, 9)
    with pytest.raises(FileNotFoundError):
        store.open("images/no/ne/x")
    with pytest.raises(FileNotFoundError):
        store.download("images/no/ne/x", tmp_path / "x")
    assert not (tmp_path / "x").exists()
    store.touch("images/no/ne/x")  # no-op, as on file://
    assert store.info("images/no/ne/x") is None


def test_touch_makes_a_blob_young(store: S3Store) -> None:
    store.put_bytes("thumbnails/ab/t.jpg", b"jpeg")
    before = store.info("thumbnails/ab/t.jpg")
    assert before is not None
    time.sleep(1.1)  # S3 keeps whole seconds: the clock must move past one
    store.touch("thumbnails/ab/t.jpg")
    after = store.info("thumbnails/ab/t.jpg")
    assert after is not None
    assert after.mtime > before.mtime
    assert store.get_bytes("thumbnails/ab/t.jpg") == b"jpeg"


@pytest.mark.parametrize(
    "key",
    ["../etc/passwd", "images/../../x", "/abs", "images//x", ".hidden", "images/.x", "a b",
     "images/\x00", "ünïcode", "", "images/ab/", "..", "a\\b"],
)  # fmt: skip
def test_hostile_keys_are_refused(store: S3Store, s3: S3Server, key: str) -> None:
    for call in (
        lambda: store.put_bytes(key, b"x"),
        lambda: store.get_bytes(key),
        lambda: store.info(key),
        lambda: store.delete(key),
        lambda: store.presigned_url(key, mime="image/png", seconds=60),
    ):
        with pytest.raises(ValueError, match="not a blob key"):
            call()
    assert s3.stored_keys() == []


def test_presigned_url_serves_the_blob_and_expires(store: S3Store, s3: S3Server) -> None:
    store.put_bytes("images/ab/cd/p", b"\x89PNG picture")
    url = store.presigned_url("images/ab/cd/p", mime="image/png", seconds=60)
    assert url is not None
    assert url.startswith(s3.endpoint + "/")
    assert store.public_origin() == s3.endpoint
    got = httpx.get(url)
    assert got.status_code == 200
    assert got.content == b"\x89PNG picture"
    assert got.headers["content-type"] == "image/png"
    unsigned = url.split("?")[0]
    assert httpx.get(unsigned).status_code == 403


def test_store_down_is_store_unavailable_naming_it(
    store: S3Store, s3: S3Server, tmp_path: Path
) -> None:
    store.put_bytes("images/ab/cd/d", b"data")
    local = tmp_path / "model.onnx"
    local.write_bytes(b"onnx")
    s3.stop()
    started = time.monotonic()
    for call in (
        lambda: store.put_file("models/1/model.onnx", local),
        lambda: store.download("images/ab/cd/d", tmp_path / "copy"),
        lambda: store.open("images/ab/cd/d"),
        lambda: store.read_range("images/ab/cd/d", 0, 1),
        lambda: store.put_bytes("images/ab/cd/e", b"x"),
        lambda: store.get_bytes("images/ab/cd/d"),
        lambda: store.info("images/ab/cd/d"),
        lambda: list(store.list("images/")),
    ):
        with pytest.raises(StoreUnavailable) as caught:
            call()
        assert s3.url in str(caught.value)
        assert s3.endpoint in str(caught.value)
    assert time.monotonic() - started < 30  # answers in seconds, not minutes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]  # no half copy
    s3.start()
    assert store.get_bytes("images/ab/cd/d") == b"data"


def test_wrong_bucket_or_credentials_is_store_unavailable(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nowhere = open_store(s3.settings(data_dir=tmp_path, storage_url="s3://no-such-bucket/p"))
    with pytest.raises(StoreUnavailable, match=r"no-such-bucket.*NoSuchBucket"):
        nowhere.put_bytes("images/ab/cd/x", b"x")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    anonymous = open_store(s3.settings(data_dir=tmp_path))
    with pytest.raises(StoreUnavailable, match="credentials"):
        anonymous.put_bytes("images/ab/cd/x", b"x")


def test_a_bad_storage_url_is_refused(s3: S3Server, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="s3://"):
        open_store(s3.settings(data_dir=tmp_path, storage_url="s3:///prefix-without-bucket"))
    with pytest.raises(ValueError, match="file:// or s3://"):
        open_store(s3.settings(data_dir=tmp_path, storage_url="gs://bucket"))
