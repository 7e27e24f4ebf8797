"""A real S3 server for tests: moto's server mode on a free port, with a fresh bucket.

Use the ``s3`` fixture (import it into a conftest: ``from tests.support.s3 import s3``):

- in-process: it sets the environment (``CURATOR_STORAGE_URL``, ``CURATOR_S3_ENDPOINT_URL``,
  the ``AWS_*`` credentials) for the test, so ``Settings()`` and boto3 pick them up, and
  ``s3.settings(**fields)`` gives the same as Settings keyword arguments;
- for subprocesses (``curator serve``, ``curator worker``): ``env = {**curator_env(...),
  **s3.env}``;
- ``s3.stop()`` takes the store down mid-test and ``s3.start()`` brings it back on the same
  port with the same contents (moto keeps its state in this process);
- ``s3.client()`` is a plain boto3 client and ``s3.stored_keys()`` lists the install's keys.

Without moto the test skips, saying so; under CI=true it fails instead.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.env import require
from tests.support.processes import free_port, wait_for

_buckets = itertools.count(1)


class S3Server:
    def __init__(self, tmp_path: Path) -> None:
        from moto.server import ThreadedMotoServer

        self._server_type = ThreadedMotoServer
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.bucket = f"curator-test-{os.getpid()}-{next(_buckets)}"
        self.prefix = "install"
        self.url = f"s3://{self.bucket}/{self.prefix}"
        # Credentials moto accepts; no profile or config file from the host may leak in.
        self.env = {
            "CURATOR_STORAGE_URL": self.url,
            "CURATOR_S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        }
        self._server: Any = None

    def start(self) -> None:
        assert self._server is None, "the S3 server is running already"
        self._server = self._server_type(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        wait_for(self._answers, timeout=15, what=f"moto on {self.endpoint}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def _answers(self) -> bool:
        self.client().list_buckets()
        return True

    def client(self) -> Any:
        import boto3

        return boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        ).client("s3", endpoint_url=self.endpoint)

    def settings(self, **fields: Any) -> Any:
        """Settings on this bucket (pass data_dir, secret_key... as usual)."""
        from app.config import Settings

        base: dict[str, Any] = {"storage_url": self.url, "s3_endpoint_url": self.endpoint}
        return Settings(**{**base, **fields})

    def stored_keys(self, prefix: str = "") -> list[str]:
        """Every key under the install's prefix (without it), sorted."""
        pages = self.client().get_paginator("list_objects_v2")
        full = f"{self.prefix}/{prefix}"
        found = [
            o["Key"][len(self.prefix) + 1 :]
            for page in pages.paginate(Bucket=self.bucket, Prefix=full)
            for o in page.get("Contents", ())
        ]
        return sorted(found)

    keys = stored_keys


@pytest.fixture
def s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    try:
        import moto.server  # noqa: F401
    except ImportError:
        require(False, "moto[server] is not installed: the S3 tests need its server mode")
    server = S3Server(tmp_path)
    server.start()
    try:
        server.client().create_bucket(Bucket=server.bucket)
        for key, value in server.env.items():
            monkeypatch.setenv(key, value)
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
            monkeypatch.delenv(key, raising=False)
        yield server
    finally:
        server.stop()
