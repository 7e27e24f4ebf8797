"""A worker on another machine: its own empty data dir, nothing shared with the web but
PostgreSQL, Redis and the S3 server (moto).

`curator serve` runs without its worker child; a second `curator worker` consumes the ml
queue with a data dir of its own. Photos are imported through the web's API; embedding,
training and export go through that worker, which reads originals from the bucket into
its cache and writes shards and models back. The web serves the models from the bucket.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import numpy as np
import pytest
from sqlalchemy import create_engine, text

from app.blobs.cache import TMP_PREFIX
from tests.support.datasets import FLOWERS12
from tests.support.env import require
from tests.support.postgres import postgres_admin_url, postgres_database
from tests.support.processes import (
    REPO,
    curator_cmd,
    curator_env,
    free_port,
    running,
    wait_for,
    wait_http_ok,
)
from tests.support.s3 import S3Server
from tests.workers.redis_server import RedisServer

pytestmark = pytest.mark.slow
SPECIES = ("daisy", "iris", "pansy")
PASSWORD = "no-shared-disk-1"
BACKBONE = "efficientnet_lite0"


@dataclass
class Install:
    base: str  # the web's URL
    api: httpx.Client
    env: dict[str, str]  # what every process shares: database, broker, bucket
    database_url: str
    web_dir: Path
    tmp: Path

    def worker_env(self, data_dir: Path) -> dict[str, str]:
        return {**curator_env(data_dir), **self.env}

    def sql(self, query: str, **params: object) -> list[tuple[object, ...]]:
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(text(query), params)]
        finally:
            engine.dispose()


@contextmanager
def _install(s3: S3Server, tmp: Path) -> Iterator[Install]:
    require(shutil.which("redis-server"), "redis-server is not installed")
    require((FLOWERS12 / "train").is_dir(), f"the flowers12 dataset is missing at {FLOWERS12}")
    with ExitStack() as stack:
        database_url = stack.enter_context(postgres_database(postgres_admin_url()))
        (tmp / "redis").mkdir()
        redis = RedisServer(tmp / "redis")
        redis.start()
        stack.callback(redis.stop)
        shared = {
            **s3.env,
            "CURATOR_DATABASE_URL": database_url,
            "CURATOR_BROKER_URL": redis.url,
            "CURATOR_ML_DEVICE": "cpu",
            "CURATOR_ALLOW_WEIGHT_DOWNLOAD": "false",
            "CURATOR_JOB_HEARTBEAT_INTERVAL": "1",
            "CURATOR_JOB_STALE_AFTER": "6",
            "CURATOR_WORKER_TICK": "1",
            "TORCH_HOME": str(tmp / "torch-home"),
            "HF_HOME": str(tmp / "hf-home"),
        }
        web_dir = tmp / "web-data"
        web_env = {**curator_env(web_dir), **shared}
        made = subprocess.run(
            curator_cmd("createuser", "ada", "--password", PASSWORD, "--role", "admin"),
            env=web_env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr[-3000:]
        port = free_port()
        log = tmp / "web.log"
        web = stack.enter_context(
            running(curator_cmd("serve", "--port", str(port), "--no-worker"), web_env, log)
        )
        base = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{base}/api/v1/health", web, log, timeout=120)
        api = stack.enter_context(httpx.Client(base_url=base, timeout=120))
        token = api.post("/api/v1/auth/token", data={"username": "ada", "password": PASSWORD})
        assert token.status_code == 200, token.text
        api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield Install(base, api, shared, database_url, web_dir, tmp)


def _project_with_photos(install: Install, name: str, per_species: int) -> tuple[int, int]:
    """(project id, one image's id)."""
    made = install.api.post("/api/v1/projects", json={"name": name})
    assert made.status_code == 201, made.text
    pid = int(made.json()["id"])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for species in SPECIES:
            for path in sorted((FLOWERS12 / "train" / species).glob("*.jpg"))[:per_species]:
                archive.write(path, f"{species}/{path.name}")
    done = install.api.post(
        f"/api/v1/projects/{pid}/images?mode=sync",
        files=[("files", ("photos.zip", buffer.getvalue(), "application/zip"))],
        data={"labels_from_folders": "true"},
    )
    assert done.status_code == 200, done.text
    assert len(done.json()["imported"]) == per_species * len(SPECIES)
    return pid, int(done.json()["imported"][0]["id"])


def _wait_run(install: Install, rid: int, log: Path, timeout: float = 900) -> dict[str, object]:
    def finished() -> bool:
        status = install.api.get(f"/api/v1/training-runs/{rid}").json()["status"]
        return status not in {"queued", "running"}

    try:
        wait_for(finished, timeout=timeout, interval=0.5, what=f"training run {rid}")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{log.read_text()[-5000:]}") from None
    body: dict[str, object] = install.api.get(f"/api/v1/training-runs/{rid}").json()
    return body


def _download(install: Install, rid: int, format: str) -> dict[str, bytes]:
    url = f"/api/v1/training-runs/{rid}/model"
    wait_for(
        lambda: install.api.get(url, params={"format": format}).status_code == 200,
        timeout=300,
        interval=0.5,
        what=f"run {rid}'s {format} model",
    )
    answer = install.api.get(url, params={"format": format})
    with zipfile.ZipFile(io.BytesIO(answer.content)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _top_level(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def _shards_whole(install: Install, s3: S3Server, pid: int) -> int:
    """Every shard the database names is in the bucket and holds the rows it names."""
    named = install.sql(
        "SELECT e.shard, max(e.row) FROM embeddings e JOIN images i ON i.id = e.image_id "
        "WHERE i.project_id = :pid AND e.error IS NULL GROUP BY e.shard",
        pid=pid,
    )
    client = s3.client()
    for shard, last_row in named:
        body = client.get_object(Bucket=s3.bucket, Key=f"{s3.prefix}/embeddings/{BACKBONE}/{shard}")
        array = np.load(io.BytesIO(body["Body"].read()), allow_pickle=False)
        assert array.shape[0] > int(str(last_row)), shard
    return len(named)


def test_embedding_training_and_export_through_a_worker_with_its_own_data_dir(
    s3: S3Server, tmp_path: Path
) -> None:
    with _install(s3, tmp_path) as install:
        pid, image_id = _project_with_photos(install, "Far away", per_species=8)
        assert len(s3.keys("images/")) == 24  # the originals went to the bucket
        url = f"/api/v1/projects/{pid}/training-runs"
        rid = install.api.post(url, json={"mode": "linear", "backbone": BACKBONE}).json()["id"]
        # Fine-tuning reads the originals themselves, not the embeddings.
        tuned = install.api.post(
            url, json={"mode": "finetune", "backbone": BACKBONE, "params": {"epochs": 1}}
        ).json()["id"]
        worker_dir = tmp_path / "worker-data"
        log = tmp_path / "worker.log"
        cmd = curator_cmd("worker", "--queues", "ml", "--concurrency", "1")
        with running(cmd, install.worker_env(worker_dir), log):
            run = _wait_run(install, rid, log)
            assert run["status"] == "succeeded", (run.get("error"), log.read_text()[-5000:])
            onnx = _download(install, rid, "onnx")
            torchscript = _download(install, rid, "torchscript")
            # A saliency map: the worker reads the model and the original from the
            # bucket, writes the PNG there; the web serves it from there.
            saliency = f"/api/v1/images/{image_id}/saliency"
            wait_for(
                lambda: install.api.get(saliency, params={"run_id": rid}).status_code == 200,
                timeout=300, interval=0.5, what="the saliency map",
            )  # fmt: skip
            png = install.api.get(saliency, params={"run_id": rid})
            finetuned = _wait_run(install, tuned, log)
            assert finetuned["status"] == "succeeded", (finetuned.get("error"), log.read_text())
            assert sorted(_download(install, tuned, "onnx")) == ["model.json", "model.onnx"]
        assert png.headers["content-type"] == "image/png"
        assert png.content.startswith(b"\x89PNG")

        assert sorted(onnx) == ["model.json", "model.onnx"]
        meta = json.loads(onnx["model.json"])
        assert sorted(meta["class_names"]) == sorted(SPECIES)
        assert len(onnx["model.onnx"]) > 100_000
        assert sorted(torchscript) == ["model.json", "model.pt"]

        keys = s3.keys()
        assert {f"models/{rid}/model.json", f"models/{rid}/model.onnx"} <= set(keys)
        assert _shards_whole(install, s3, pid) >= 1
        assert any(k.startswith(f"maps/{pid}/") for k in keys), keys
        maps = [k for k in keys if k.startswith(f"saliency/{rid}/")]
        assert len(maps) == 1, maps
        assert maps[0].startswith(f"saliency/{rid}/{image_id}-")
        assert (
            s3.client().get_object(Bucket=s3.bucket, Key=f"{s3.prefix}/{maps[0]}")["Body"].read()
            == png.content
        )
        assert f"models/{tuned}/model.json" in keys

        # The worker's data dir holds only its cache: copies it fetched from the bucket,
        # never the web's folders.
        assert _top_level(worker_dir) <= {"cache", "secret_key"}, _top_level(worker_dir)
        cached = sorted((worker_dir / "cache" / "images").rglob("*"))
        assert len([p for p in cached if p.is_file()]) == 24
        # And the web's holds none of the files: they are all in the bucket.
        assert not _top_level(install.web_dir) & {"images", "models", "embeddings", "maps"}


def test_a_worker_killed_mid_embedding_leaves_the_store_whole_for_the_next(
    s3: S3Server, tmp_path: Path
) -> None:
    with _install(s3, tmp_path) as install:
        # The import queues the embedding of the new photos on the ml queue.
        pid, _ = _project_with_photos(install, "Killed far away", per_species=20)
        worker_dir = tmp_path / "worker-data"
        fetched = worker_dir / "cache" / "images"
        cmd = curator_cmd("worker", "--queues", "ml", "--concurrency", "1")

        def embedding() -> bool:
            # The task fetches the originals to embed them: once one is in the cache, the
            # worker is mid-embedding (all 60 in one batch, committed at its end).
            return fetched.is_dir() and any(p.is_file() for p in fetched.rglob("*"))

        log = tmp_path / "victim.log"
        with running(cmd, install.worker_env(worker_dir), log) as victim:
            wait_for(embedding, timeout=300, interval=0.05, what="the worker to start embedding")
            os.killpg(victim.pid, signal.SIGKILL)  # the worker and its task process
            victim.wait()
        embedded = install.sql(
            "SELECT count(*) FROM embeddings e JOIN images i ON i.id = e.image_id "
            "WHERE i.project_id = :pid",
            pid=pid,
        )
        assert embedded == [(0,)], "killed after the batch was committed, not mid-way"

        # A new worker process on the same disk, with whatever the dead one left in its
        # cache: the run embeds everything, trains and exports.
        rid = install.api.post(
            f"/api/v1/projects/{pid}/training-runs", json={"mode": "linear", "backbone": BACKBONE}
        ).json()["id"]
        log = tmp_path / "fresh.log"
        with running(cmd, install.worker_env(worker_dir), log):
            run = _wait_run(install, rid, log)
            assert run["status"] == "succeeded", (run.get("error"), log.read_text()[-5000:])
            model = _download(install, rid, "onnx")
        assert sorted(json.loads(model["model.json"])["class_names"]) == sorted(SPECIES)
        assert install.sql(
            "SELECT count(*) FROM embeddings e JOIN images i ON i.id = e.image_id "
            "WHERE i.project_id = :pid AND e.error IS NULL",
            pid=pid,
        ) == [(60,)]
        assert _shards_whole(install, s3, pid) >= 1
        # The originals are whole: each one's bytes hash to the name it is stored under.
        client = s3.client()
        originals = s3.keys("images/")
        assert len(originals) == 60
        for key in originals:
            body = client.get_object(Bucket=s3.bucket, Key=f"{s3.prefix}/{key}")["Body"].read()
            assert hashlib.sha256(body).hexdigest() == key.rsplit("/", 1)[1]
        # The dead process's half-fetched files went with its staging folder.
        cache = worker_dir / "cache"
        assert not [p for p in cache.rglob("*") if p.name.startswith(TMP_PREFIX)]
