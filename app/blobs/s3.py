"""`s3://bucket/prefix`: blobs in any S3-compatible store (AWS S3, MinIO, Ceph, R2), via boto3.

A key ``images/ab/cd/<sha>`` is the object ``<prefix>/images/ab/cd/<sha>`` in the bucket.
S3 writes are atomic by nature (an object appears whole or not at all), so nothing here
writes beside and renames. Every failure to reach the store, or a store that refuses us
(bad credentials, no such bucket), becomes `StoreUnavailable` naming the store and what
failed; an absent key is FileNotFoundError, as on file://.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, TypeVar
from urllib.parse import urlsplit

import boto3
from boto3.exceptions import Boto3Error
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.blobs.base import BlobInfo, StoreUnavailable, check_key
from app.config import Settings

T = TypeVar("T")
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
# Few, quick retries: a store that is down should answer the user in seconds, not minutes.
_CONFIG: dict[str, Any] = {
    "connect_timeout": 5,
    "read_timeout": 60,
    "retries": {"max_attempts": 2, "mode": "standard"},
}
_stores: dict[tuple[str | None, ...], S3Store] = {}
_stores_lock = threading.Lock()


class S3Store:
    def __init__(self, url: str, endpoint_url: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"not an s3:// store URL: {url!r}")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        if self.prefix:
            check_key(self.prefix)
        self.url = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self.endpoint_url = endpoint_url or None
        # Path-style addressing: MinIO and most self-hosted stores serve no per-bucket host.
        style = "path" if self.endpoint_url else "auto"
        config = Config(s3={"addressing_style": style}, signature_version="s3v4", **_CONFIG)
        self._client: Any = boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, config=config
        )
        self._origin: str | None = None

    def __reduce__(self) -> tuple[type[S3Store], tuple[str, str | None]]:
        # A process pool (folder import) gets the store by pickle; each process builds
        # its own client, with the credentials it inherits from the environment.
        return (S3Store, (self.url, self.endpoint_url))

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Store:
        # A client costs tens of milliseconds to build: one per store and credentials, not
        # one per request. The key holds what boto3 reads from the environment.
        env = tuple(
            os.environ.get(k)
            for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                      "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE")
        )  # fmt: skip
        key = (settings.storage_url, settings.s3_endpoint_url, *env)
        with _stores_lock:
            store = _stores.get(key)
            if store is None:
                store = _stores[key] = cls(settings.storage_url, settings.s3_endpoint_url)
            return store

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, what: str, key: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING:
                raise FileNotFoundError(f"{self.url}: no blob {key!r}") from None
            self._unavailable(what, key, f"{code}: {exc}")
        except (BotoCoreError, Boto3Error) as exc:  # refused, timeouts, no credentials
            self._unavailable(what, key, str(exc))

    def _unavailable(self, what: str, key: str, why: str) -> NoReturn:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        raise StoreUnavailable(
            f"The object store {self.url}{where} is unavailable ({what} {key or '/'}): {why}"
        ) from None

    def put_bytes(self, key: str, data: bytes) -> None:
        k = self._key(key)
        self._call(
            "writing", key, lambda: self._client.put_object(Bucket=self.bucket, Key=k, Body=data)
        )

    def put_file(self, key: str, path: Path) -> None:
        k = self._key(key)
        # upload_file splits large files into parts; the object still appears only when whole.
        self._call("writing", key, lambda: self._client.upload_file(str(path), self.bucket, k))

    def _get(self, key: str, **extra: str) -> Any:
        k = self._key(key)
        return self._call(
            "reading", key, lambda: self._client.get_object(Bucket=self.bucket, Key=k, **extra)
        )

    def get_bytes(self, key: str) -> bytes:
        body = self._get(key)["Body"]
        return self._call("reading", key, lambda: bytes(body.read()))

    def open(self, key: str) -> BinaryIO:
        return io.BufferedReader(_BodyReader(self, key, self._get(key)["Body"]), 1 << 20)

    def read_range(self, key: str, start: int, end: int) -> bytes:
        if end < start:
            return b""
        body = self._get(key, Range=f"bytes={start}-{end}")["Body"]
        return self._call("reading", key, lambda: bytes(body.read()))

    def download(self, key: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        os.close(fd)
        k = self._key(key)
        try:
            self._call("reading", key, lambda: self._client.download_file(self.bucket, k, tmp))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def info(self, key: str) -> BlobInfo | None:
        k = self._key(key)
        try:
            head = self._call(
                "checking", key, lambda: self._client.head_object(Bucket=self.bucket, Key=k)
            )
        except FileNotFoundError:
            return None
        return BlobInfo(key, int(head["ContentLength"]), head["LastModified"].timestamp())

    def touch(self, key: str) -> None:
        # S3 has no utime: copying an object onto itself gives it a new LastModified,
        # which is what `curator gc` reads as "recently named".
        k = self._key(key)
        source = {"Bucket": self.bucket, "Key": k}
        with suppress(FileNotFoundError):
            self._call(
                "touching",
                key,
                lambda: self._client.copy_object(
                    Bucket=self.bucket, Key=k, CopySource=source, MetadataDirective="REPLACE"
                ),
            )

    def delete(self, key: str) -> None:
        k = self._key(key)
        self._call("deleting", key, lambda: self._client.delete_object(Bucket=self.bucket, Key=k))

    def list(self, prefix: str) -> Iterator[BlobInfo]:
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        cut = len(self.prefix) + 1 if self.prefix else 0
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=full
        )
        iterator = iter(pages)
        while True:
            page = self._call("listing", prefix, lambda: next(iterator, None))
            if page is None:
                return
            for item in page.get("Contents", ()):
                yield BlobInfo(
                    item["Key"][cut:], int(item["Size"]), item["LastModified"].timestamp()
                )

    def local_path(self, key: str) -> Path | None:
        return None

    def presigned_url(self, key: str, *, mime: str, seconds: int) -> str | None:
        params = {"Bucket": self.bucket, "Key": self._key(key), "ResponseContentType": mime}
        # Signing is local arithmetic: no request, so nothing here can find the store down.
        url: str = self._client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=seconds
        )
        return url

    def public_origin(self) -> str | None:
        if self._origin is None:
            parts = urlsplit(self.presigned_url("origin-probe", mime="image/png", seconds=60) or "")
            self._origin = f"{parts.scheme}://{parts.netloc}"
        return self._origin


class _BodyReader(io.RawIOBase):
    """A boto3 response body as a file: errors mid-stream still say which store failed."""

    def __init__(self, store: S3Store, key: str, body: Any) -> None:
        self._store, self._key, self._body = store, key, body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        chunk: bytes = self._store._call("reading", self._key, lambda: self._body.read(len(view)))
        view[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        with suppress(Exception):
            self._body.close()
        super().close()
