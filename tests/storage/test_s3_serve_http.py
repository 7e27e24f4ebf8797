"""A real `curator serve` on an s3:// store, over real HTTP: an upload lands in the bucket,
the original is served whole and by Range, and a store that goes down answers 503."""

from __future__ import annotations

from pathlib import Path

import httpx2 as httpx
import pytest

from tests.images import corpus
from tests.support.processes import (
    curator_cmd,
    curator_env,
    free_port,
    running,
    wait_http_ok,
)
from tests.support.s3 import S3Server

pytestmark = pytest.mark.slow
PASSWORD = "s3-serve-admin-1"


def test_serve_on_a_bucket_imports_and_streams_ranges(s3: S3Server, tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**curator_env(data, CURATOR_ADMIN_PASSWORD=PASSWORD), **s3.env}
    log = tmp_path / "serve.log"
    cmd = curator_cmd("serve", "--port", str(port), "--no-worker")
    with running(cmd, env, log) as proc:
        wait_http_ok(f"{base}/api/v1/health", proc, log)
        token = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}
        ).json()["access_token"]
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
        pid = api.post("/api/v1/projects", json={"name": "Served"}).json()["id"]
        original = corpus.jpeg(seed=3)
        body = api.post(
            f"/api/v1/projects/{pid}/images", files=[("files", ("a.jpg", original, "image/jpeg"))]
        ).json()
        iid = body["imported"][0]["id"]
        assert [k for k in s3.stored_keys() if k.startswith("images/")]
        assert not (data / "images").exists()

        whole = api.get(f"/api/v1/images/{iid}/file")
        assert whole.status_code == 200
        assert whole.content == original
        assert whole.headers["accept-ranges"] == "bytes"
        part = api.get(f"/api/v1/images/{iid}/file", headers={"Range": "bytes=10-29"})
        assert part.status_code == 206
        assert part.content == original[10:30]
        assert part.headers["content-range"] == f"bytes 10-29/{len(original)}"
        bad = api.get(f"/api/v1/images/{iid}/file", headers={"Range": "bytes=99999999-"})
        assert bad.status_code == 416
        assert api.get(f"/api/v1/images/{iid}/thumbnail").status_code == 200
        outsider = httpx.get(f"{base}/api/v1/images/{iid}/file")
        assert outsider.status_code == 401

        s3.stop()
        down = api.get(f"/api/v1/images/{iid}/thumbnail")
        assert down.status_code == 503
        assert s3.url in down.json()["detail"]
        s3.start()
        assert api.get(f"/api/v1/images/{iid}/thumbnail").status_code == 200
