"""Gallery latency with 100,000 images in one project: the first page, server side.

Run: .venv/bin/python bench/gallery_latency.py [--images 100000] [--runs 40]

The rows are inserted directly (a 100,000-file import would take the ingest
benchmark's time and measure nothing more here): real schema, real indexes, a two-level
taxonomy of 24 categories, half the images labeled, a tenth rejected, 2% in
near-duplicate groups, 20 import batches. Each request goes through the whole app
(routing, auth, session, SQL, template) in process, with no network; the figure is the
median and 95th percentile over --runs requests. The baseline is GET /api/v1/health
through the same client in the same run: what any request costs before any work.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from app.auth import service as auth  # noqa: E402
from app.auth.models import Role  # noqa: E402
from app.config import Settings  # noqa: E402
from app.db import make_engine, make_sessionmaker, utcnow  # noqa: E402
from app.images.models import BatchStatus, Image, ImageStatus, ImportBatch  # noqa: E402
from app.main import create_app  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.projects import service as projects  # noqa: E402
from app.taxonomy import service as taxonomy  # noqa: E402
from app.taxonomy.schemas import CategoryCreate  # noqa: E402

SECRET = "bench " + "password"


def populate(settings: Settings, count: int) -> tuple[int, int, int]:
    """The project id, a family category id and a batch id, for the filters."""
    upgrade(settings.resolved_database_url)
    rng = random.Random(0)
    engine = make_engine(settings.resolved_database_url)
    with make_sessionmaker(engine)() as session:
        user = auth.create_user(session, "bench", SECRET, Role.admin)
        project = projects.create_project(session, user, "Bench")
        leaves: list[int] = []
        families: list[int] = []
        for f in range(4):
            family = taxonomy.create_category(session, project, CategoryCreate(name=f"family {f}"))
            families.append(family.category.id)
            for s in range(5):
                new = CategoryCreate(name=f"species {f}.{s}", parent_id=family.category.id)
                leaves.append(taxonomy.create_category(session, project, new).category.id)
        batches = []
        for b in range(20):
            batch = ImportBatch(project_id=project.id, source="cli", name=f"batch {b}",
                                status=BatchStatus.succeeded)  # fmt: skip
            session.add(batch)
            session.flush()
            batches.append(batch.id)
        now = utcnow()
        rows = []
        for i in range(count):
            roll = rng.random()
            status = (
                ImageStatus.labeled
                if roll < 0.5
                else ImageStatus.rejected
                if roll < 0.6
                else ImageStatus.unlabeled
            )
            rows.append(
                {
                    "project_id": project.id,
                    "batch_id": batches[i * len(batches) // count],
                    "sha256": hashlib.sha256(str(i).encode()).hexdigest(),
                    "filename": f"photos/{rng.randrange(10**9):09d}.jpg",
                    "format": "jpeg",
                    "width": 500,
                    "height": 375,
                    "orientation": 1,
                    "size_bytes": 40_000,
                    "phash": f"{rng.getrandbits(64):016x}",
                    "thumbnail_mime": "image/jpeg",
                    "status": status,
                    "category_id": rng.choice(leaves) if status is ImageStatus.labeled else None,
                    "dup_group_id": (i - i % 3 + 1) if rng.random() < 0.02 else None,
                    "dup_checked": True,
                    "created_at": now,
                }
            )
        for start in range(0, len(rows), 10_000):
            session.execute(insert(Image), rows[start : start + 10_000])
        session.commit()
        ids = (project.id, families[0], batches[7])
    engine.dispose()
    return ids


def timed(client: TestClient, url: str, runs: int) -> tuple[float, float]:
    client.get(url)  # warm: template compile, statement cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        resp = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert resp.status_code == 200, (url, resp.status_code, resp.text[:300])
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="curator-gallery-")) / "data"
    data.mkdir()
    settings = Settings(env="test", data_dir=data, secret_key="bench-" + "x" * 40)
    start = time.perf_counter()
    pid, family, batch = populate(settings, args.images)
    print(f"{args.images:,} images inserted in {time.perf_counter() - start:.1f} s")
    with TestClient(create_app(settings)) as client:
        page = client.get("/login").text
        marker = 'name="csrf_token" value="'
        token = page[page.index(marker) + len(marker) :].split('"', 1)[0]
        login = {"username": "bench", "password": SECRET, "csrf_token": token}
        assert client.post("/login", data=login, follow_redirects=False).status_code == 303
        base = timed(client, "/api/v1/health", args.runs)
        print(f"{'request':58} median    p95   (ms)")
        print(f"{'baseline GET /api/v1/health':58} {base[0]:6.1f} {base[1]:6.1f}")
        cases = [
            f"/projects/{pid}/images",
            f"/projects/{pid}/images?status=unlabeled",
            f"/projects/{pid}/images?category={family}",
            f"/projects/{pid}/images?batch={batch}",
            f"/projects/{pid}/images?near=1",
            f"/projects/{pid}/images?sort=filename",
            f"/projects/{pid}/images?status=labeled&page=500",
            f"/api/v1/projects/{pid}/images?limit=60",
            f"/api/v1/projects/{pid}/images?limit=60&category_id={family}&sort=oldest",
        ]
        for url in cases:
            median, p95 = timed(client, url, args.runs)
            print(f"{url:58} {median:6.1f} {p95:6.1f}   x{median / base[0]:.0f} baseline")


if __name__ == "__main__":
    main()
