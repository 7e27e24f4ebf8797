"""Ingest rate, end to end: files in, rows and thumbnails out.

Run: .venv/bin/python bench/ingest_rate.py [--count 1000] [--big 10000]

Files: 500x375 JPEG photos, made from the flowers12 photographs (each upscaled from a
random crop, so every file is different) or, without the dataset, from generated
photo-like images. Every figure includes reading, sha256, validation, decoding, the
thumbnail, the perceptual hash, the content-addressed store, the database row and the
near-duplicate grouping, on a fresh SQLite data dir.

Measured, in one run:
- baseline: a bare Pillow open().load() of the same files, one process;
- `curator import` engine (app.imports.folder_import) with 1 and with 2 processes;
- a background job through the API on a real `curator worker --concurrency 2`
  (2 worker processes on the ingest queue), from the upload to the job's success;
- the --big import (default 10,000 files) with 2 processes.
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from app.auth import service as auth  # noqa: E402
from app.auth.models import Role  # noqa: E402
from app.config import Settings  # noqa: E402
from app.db import make_engine, make_sessionmaker  # noqa: E402
from app.imports.folder_import import import_folder  # noqa: E402
from app.main import create_app  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.projects import service as projects  # noqa: E402
from tests.images.corpus import jpeg  # noqa: E402
from tests.support.processes import curator_cmd, curator_env, running, wait_for  # noqa: E402

FLOWERS = ROOT.parent / "shared" / "datasets" / "flowers12"
SECRET = "bench " + "password"


def make_photos(folder: Path, count: int, seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True)
    sources = sorted(FLOWERS.glob("*/*/*.jpg"))
    rng = random.Random(seed)
    paths = []
    for i in range(count):
        if sources:
            photo = Image.open(sources[i % len(sources)]).convert("RGB")
            w, h = photo.size
            left, top = rng.randint(0, w // 8), rng.randint(0, h // 8)
            crop = photo.crop((left, top, left + w * 7 // 8, top + h * 7 // 8))
            out = io.BytesIO()
            crop.resize((500, 375), Image.Resampling.BILINEAR).save(out, "JPEG", quality=90)
            data = out.getvalue()
        else:
            data = jpeg(seed=seed * 1_000_000 + i)
        path = folder / f"{i:06d}.jpg"
        path.write_bytes(data)
        paths.append(path)
    return paths


def fresh(tmp: Path, name: str) -> tuple[Settings, int, int]:
    data = tmp / name
    data.mkdir()
    settings = Settings(env="test", data_dir=data, secret_key="bench-" + "x" * 40)
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    with make_sessionmaker(engine)() as session:
        user = auth.create_user(session, "bench", SECRET, Role.admin)
        project = projects.create_project(session, user, "Bench")
        session.commit()
        ids = (user.id, project.id)
    engine.dispose()
    return settings, *ids


def baseline(paths: list[Path]) -> float:
    start = time.perf_counter()
    for path in paths:
        with Image.open(path) as image:
            image.load()
    return len(paths) / (time.perf_counter() - start)


def engine_rate(tmp: Path, name: str, folder: Path, workers: int) -> tuple[float, int]:
    settings, user_id, project_id = fresh(tmp, name)
    engine = make_engine(settings.resolved_database_url)
    start = time.perf_counter()
    _, summary = import_folder(
        make_sessionmaker(engine), settings, project_id, user_id, folder, workers=workers
    )
    elapsed = time.perf_counter() - start
    engine.dispose()
    return len(summary.imported) / elapsed, len(summary.imported)


def job_rate(tmp: Path, paths: list[Path]) -> tuple[float, int]:
    settings, _, project_id = fresh(tmp, "job")
    settings = settings.model_copy(update={"sync_import_max_files": 0})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for path in paths:
            archive.write(path, path.name)
    env = curator_env(settings.data_dir)
    log = tmp / "worker.log"
    cmd = curator_cmd("worker", "--queues", "ingest", "--concurrency", "2", "--loglevel", "WARNING")
    with running(cmd, env, log), TestClient(create_app(settings)) as api:
        token = api.post("/api/v1/auth/token", data={"username": "bench", "password": SECRET})
        api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        # The worker is a long-running service: wait until it is up before the clock starts.
        celery = api.app.state.celery  # type: ignore[attr-defined]
        wait_for(lambda: celery.control.ping(timeout=1), timeout=120, what="the worker")
        start = time.perf_counter()
        resp = api.post(
            f"/api/v1/projects/{project_id}/images",
            files=[("files", ("photos.zip", buffer.getvalue(), "application/zip"))],
        )
        job = resp.json()["job"]["id"]

        def done() -> dict[str, object] | None:
            body: dict[str, object] = api.get(f"/api/v1/imports/{job}").json()
            return body if body["status"] in ("succeeded", "failed") else None

        result = wait_for(done, timeout=3600, interval=0.2, what="the import job")
        elapsed = time.perf_counter() - start
    assert isinstance(result, dict), result
    assert result["status"] == "succeeded", result
    return int(result["imported"]) / elapsed, int(result["imported"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--big", type=int, default=10_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="curator-bench-"))
    try:
        folder = tmp / "photos"
        paths = make_photos(folder, args.count)
        size = sum(p.stat().st_size for p in paths) / len(paths) / 1024
        print(f"files: {len(paths)} JPEG 500x375, {size:.0f} KiB each on average")
        base = baseline(paths)
        print(f"baseline Pillow open+load, 1 process     : {base:7.1f} images/s")
        one, n1 = engine_rate(tmp, "one", folder, 1)
        print(f"curator import engine, 1 process         : {one:7.1f} images/s ({n1} imported)")
        two, n2 = engine_rate(tmp, "two", folder, 2)
        print(f"curator import engine, 2 processes       : {two:7.1f} images/s ({n2} imported)")
        job, n3 = job_rate(tmp, paths)
        print(f"API upload -> job on 2 worker processes  : {job:7.1f} images/s ({n3} imported)")
        ratios = f"1 proc {one / base:.2f}, 2 procs {two / base:.2f}, job {job / base:.2f}"
        print(f"ratios to baseline: {ratios}")
        if args.big:
            big = tmp / "big"
            make_photos(big, args.big, seed=1)
            start = time.perf_counter()
            rate, n4 = engine_rate(tmp, "big-run", big, 2)
            print(
                f"{args.big:,}-file import, 2 processes     : {rate:7.1f} images/s, "
                f"{time.perf_counter() - start:.1f} s end to end ({n4} imported)"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
