"""The embedding map: compute time at 10,000 and 100,000 images, and the browser's time
to first paint of the map at 100,000 points.

Run: .venv/bin/python bench/embedding_map.py [--sizes 10000,100000] [--paint 100000]
     [--paint-runs 5] [--no-paint] [--no-compute]

Compute. Synthetic embeddings shaped like EfficientNet-Lite0's: 1280-d float16, in 50
clumps of different sizes. Each size is timed for the map's fit (PCA to 50, then UMAP;
``workers.ml.layout.fit``) against a baseline in the same run, plain PCA to 2-D, so the
ratio holds on a faster or busier machine; and for placing 1,000 later images into the
fit (``layout.place``). "kept" is how often a point's nearest neighbour on the map comes
from its own clump. numba's JIT compile on first use is measured apart: a fit of 300
points in this fresh process, then the same fit again.

First paint. A project of --paint images with a point each (the layout from the compute
step when it ran at that size), half labeled over 12 categories, and a run with
predictions and outlier scores for every image, served by the real app (uvicorn in a
thread). Chromium (Debian's, through Playwright) opens the map page; the figure is the
page's own ``performance.mark("map-first-paint")`` (set in the frame after the points
are drawn), from navigation start, median of --paint-runs loads. The page asks for the
places and labels first (``part=points``) and the newest run's colours after the first
paint (``part=run``); their marks are reported too.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from app.auth import service as auth  # noqa: E402
from app.auth.models import Role  # noqa: E402
from app.config import Settings  # noqa: E402
from app.db import make_engine, make_sessionmaker, utcnow  # noqa: E402
from app.images.models import Image, ImageStatus  # noqa: E402
from app.insights.models import EmbeddingMapPoint, OutlierScore  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.projects import service as projects  # noqa: E402
from app.taxonomy import service as taxonomy  # noqa: E402
from app.taxonomy.schemas import CategoryCreate  # noqa: E402
from app.training.models import Prediction, RunMode, RunStatus, TrainingRun  # noqa: E402
from workers.ml import layout  # noqa: E402

SECRET = "bench " + "password"
DIM = 1280
CLUSTERS = 50


def clustered(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CLUSTERS, DIM)).astype(np.float32) * 2.5
    weights = rng.dirichlet(np.ones(CLUSTERS))
    labels = rng.choice(CLUSTERS, size=n, p=weights)
    vectors = np.empty((n, DIM), dtype=np.float16)
    for start in range(0, n, 10_000):  # float32 noise for all 100,000 at once is 0.5 GB
        part = labels[start : start + 10_000]
        noise = rng.normal(size=(len(part), DIM)).astype(np.float32)
        vectors[start : start + 10_000] = centres[part] + noise
    return vectors, labels


def kept(coords: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=2).fit(coords)
    nearest = nn.kneighbors(coords, return_distance=False)[:, 1]
    return float((labels[nearest] == labels).mean())


def jit_cost() -> None:
    start = time.perf_counter()
    import umap  # noqa: F401

    imported = time.perf_counter() - start
    small, _ = clustered(300, seed=9)
    start = time.perf_counter()
    layout.fit(small)
    first = time.perf_counter() - start
    start = time.perf_counter()
    layout.fit(small)
    second = time.perf_counter() - start
    print(
        f"umap import {imported:.1f} s; first fit of 300 points {first:.1f} s, the same fit "
        f"again {second:.1f} s: numba compiles for ~{first - second:.1f} s once per process"
    )


def compute(n: int) -> np.ndarray:
    vectors, labels = clustered(n)
    data = vectors.astype(np.float32)
    start = time.perf_counter()
    mean, axes = layout._pca(data, 2)
    baseline = (data - mean) @ axes.T
    base = time.perf_counter() - start
    del data
    start = time.perf_counter()
    fitted = layout.fit(vectors)
    took = time.perf_counter() - start
    new, _ = clustered(1000, seed=1)
    start = time.perf_counter()
    layout.place(fitted, new)
    placing = time.perf_counter() - start
    print(
        f"{n:>7,} images: fit {took:7.1f} s   PCA to 2-D {base:5.2f} s   x{took / base:.0f}   "
        f"place 1,000 more {placing * 1000:6.0f} ms   kept: map {kept(fitted.coords, labels):.3f}, "
        f"PCA {kept(baseline, labels):.3f}"
    )
    return fitted.coords


def populate(settings: Settings, coords: np.ndarray) -> int:
    n = len(coords)
    upgrade(settings.resolved_database_url)
    rng = np.random.default_rng(0)
    engine = make_engine(settings.resolved_database_url)
    with make_sessionmaker(engine)() as session:
        user = auth.create_user(session, "bench", SECRET, Role.admin)
        project = projects.create_project(session, user, "Bench map")
        cats = [
            taxonomy.create_category(
                session, project, CategoryCreate(name=f"class {c}")
            ).category.id
            for c in range(12)
        ]
        now = utcnow()
        clump = rng.integers(0, 12, n)
        labeled = rng.random(n) < 0.5
        rows = [
            {
                "project_id": project.id,
                "sha256": hashlib.sha256(str(i).encode()).hexdigest(),
                "filename": f"photos/{i:06d}.jpg",
                "format": "jpeg",
                "width": 500,
                "height": 375,
                "orientation": 1,
                "size_bytes": 40_000,
                "phash": "0" * 16,
                "thumbnail_mime": "image/jpeg",
                "status": ImageStatus.labeled if labeled[i] else ImageStatus.unlabeled,
                "category_id": cats[clump[i]] if labeled[i] else None,
                "dup_checked": True,
                "created_at": now,
            }
            for i in range(n)
        ]
        for start in range(0, n, 10_000):
            session.execute(insert(Image), rows[start : start + 10_000])
        session.flush()
        first_id = 1  # a fresh database: ids 1..n in insert order
        run = TrainingRun(
            project_id=project.id,
            mode=RunMode.linear,
            backbone=project.backbone,
            status=RunStatus.succeeded,
            classes=[[c, f"class {k}"] for k, c in enumerate(cats)],
            finished_at=now,
        )
        session.add(run)
        session.flush()
        points, predictions, odd = [], [], []
        for i in range(n):
            image_id = first_id + i
            probs = rng.dirichlet(np.ones(12) * 0.3)
            best = int(probs.argmax())
            points.append(
                {
                    "image_id": image_id,
                    "project_id": project.id,
                    "x": float(coords[i, 0]),
                    "y": float(coords[i, 1]),
                    "placed": False,
                }
            )
            predictions.append(
                {
                    "run_id": run.id,
                    "image_id": image_id,
                    "category_id": cats[best],
                    "confidence": float(probs[best]),
                    "probabilities": struct.pack("<12e", *probs),
                }
            )
            odd.append(
                {
                    "run_id": run.id,
                    "image_id": image_id,
                    "project_id": project.id,
                    "score": float(rng.random()),
                    "flagged": False,
                    "rank": i,
                }
            )
        for table, values in (
            (EmbeddingMapPoint, points),
            (Prediction, predictions),
            (OutlierScore, odd),
        ):
            for start in range(0, n, 10_000):
                session.execute(insert(table), values[start : start + 10_000])
        session.commit()
        pid = project.id
    engine.dispose()
    return pid


def paint(coords: np.ndarray, runs: int) -> None:
    import uvicorn
    from playwright.sync_api import sync_playwright

    from app.main import create_app
    from tests.support.processes import free_port

    chromium = shutil.which("chromium")
    if chromium is None:
        print("first paint: skipped, Chromium is not installed (apt-get install chromium)")
        return
    data = Path(tempfile.mkdtemp(prefix="curator-map-")) / "data"
    data.mkdir()
    settings = Settings(env="test", data_dir=data, secret_key="bench-" + "x" * 40)
    start = time.perf_counter()
    pid = populate(settings, coords)
    took = time.perf_counter() - start
    print(f"{len(coords):,} points, predictions and scores inserted in {took:.0f} s")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 800}, base_url=base)
            page.goto("/login")
            page.get_by_label("Username", exact=True).fill("bench")
            page.get_by_label("Password", exact=True).fill(SECRET)
            page.get_by_role("button", name="Log in", exact=True).click()
            page.wait_for_url("**/projects")
            for part in ("points", "run"):
                start = time.perf_counter()
                url = f"/api/v1/projects/{pid}/embedding-map/columns?part={part}"
                size = len(page.request.get(url).body())
                took = time.perf_counter() - start
                print(f"columns, {part}: {size / 1e6:.1f} MB in {took:.2f} s (server and transfer)")
            firsts: list[float] = []
            datas: list[float] = []
            colours: list[float] = []
            for _ in range(runs):
                page.goto(f"/projects/{pid}/map")
                page.wait_for_selector("[data-map-canvas][data-colours=true]", timeout=60_000)
                marks = page.evaluate(
                    "['map-data', 'map-first-paint', 'map-colours'].map("
                    "(m) => performance.getEntriesByName(m)[0].startTime)"
                )
                datas.append(marks[0])
                firsts.append(marks[1])
                colours.append(marks[2])
            drawn = page.evaluate("document.querySelector('[data-map-canvas]').dataset.points")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    print(
        f"first paint of {drawn} points: median {statistics.median(firsts):.0f} ms from "
        f"navigation (runs: {', '.join(f'{f:.0f}' for f in firsts)}); places and labels "
        f"fetched and unpacked at {statistics.median(datas):.0f} ms; the run's colours in at "
        f"{statistics.median(colours):.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--paint", type=int, default=100_000)
    parser.add_argument("--paint-runs", type=int, default=5)
    parser.add_argument("--no-paint", action="store_true")
    parser.add_argument("--no-compute", action="store_true")
    args = parser.parse_args()
    layouts: dict[int, np.ndarray] = {}
    if not args.no_compute:
        jit_cost()
        for n in (int(s) for s in args.sizes.split(",")):
            layouts[n] = compute(n)
    if not args.no_paint:
        coords = layouts.get(args.paint)
        if coords is None:
            vectors, _ = clustered(args.paint)
            # Stand-in layout (no fit asked for): the clumps' PCA, which paints the same.
            mean, axes = layout._pca(vectors.astype(np.float32), 2)
            coords = (vectors.astype(np.float32) - mean) @ axes.T
        paint(coords, args.paint_runs)


if __name__ == "__main__":
    main()
