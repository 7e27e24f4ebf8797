"""The project overview with 100,000 images: server time of the page and of /stats.

Run: .venv/bin/python bench/overview.py [--images 100000] [--runs 30]

The rows are inserted directly into a temporary SQLite database (real schema and
indexes, through the migrations): a two-level taxonomy of 24 categories, 60% of the
images labeled and 5% rejected, each decision an annotation by one of 6 annotators
spread over the last 14 days, 2% of the images in near-duplicate groups, 20 succeeded
runs with per-class metrics, the newest run's label-issue rows for every labeled image
and outlier rows for every image, and 300 open disagreements. Each request goes
through the whole app in process (routing, session auth, SQL, template), no network;
the figures are the median and 95th percentile over --runs requests after a warm-up.
Baselines from the same run: GET /api/v1/health (any request's cost), the gallery's
first page, and the project page without the overview (its other parts: tabs, forms).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from app.auth import service as auth  # noqa: E402
from app.auth.models import Role  # noqa: E402
from app.config import Settings  # noqa: E402
from app.db import make_engine, make_sessionmaker, utcnow  # noqa: E402
from app.images.models import Image, ImageStatus  # noqa: E402
from app.insights import overview  # noqa: E402
from app.insights.models import LabelIssue, OutlierScore  # noqa: E402
from app.labeling.models import Annotation, AnnotationSource, Overlap, OverlapState  # noqa: E402
from app.main import create_app  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.projects import service as projects  # noqa: E402
from app.projects.models import Project, ProjectRole  # noqa: E402
from app.projects.pages import PAGE_EXTRAS  # noqa: E402
from app.taxonomy import service as taxonomy  # noqa: E402
from app.taxonomy.schemas import CategoryCreate  # noqa: E402
from app.training.models import RunMode, RunStatus, TrainingRun  # noqa: E402
from app.training.service import latest_models  # noqa: E402

SECRET = "bench " + "password"
BATCH = 10_000
ANNOTATORS = 6
RUNS = 20


def _insert(session: object, model: type, rows: list[dict[str, object]]) -> None:
    for start in range(0, len(rows), BATCH):
        session.execute(insert(model), rows[start : start + BATCH])  # type: ignore[attr-defined]


def populate(settings: Settings, count: int) -> int:
    """The project's id, with every table the overview reads filled."""
    upgrade(settings.resolved_database_url)
    rng = random.Random(0)
    engine = make_engine(settings.resolved_database_url)
    with make_sessionmaker(engine)() as session:
        admin = auth.create_user(session, "bench", SECRET, Role.admin)
        project = projects.create_project(session, admin, "Bench")
        people = []
        for n in range(ANNOTATORS):
            user = auth.create_user(session, f"annotator{n}", SECRET, Role.labeler)
            projects.add_member(session, project, user.username, ProjectRole.labeler)
            people.append(user.id)
        leaves: list[tuple[int, str]] = []
        for f in range(4):
            family = taxonomy.create_category(session, project, CategoryCreate(name=f"family {f}"))
            for s in range(5):
                new = CategoryCreate(name=f"species {f}.{s}", parent_id=family.category.id)
                leaves.append((taxonomy.create_category(session, project, new).category.id,
                               new.name))  # fmt: skip
        now = utcnow()
        images = []
        for i in range(count):
            roll = rng.random()
            status = ImageStatus.unlabeled
            if roll < 0.65:
                status = ImageStatus.labeled if roll < 0.6 else ImageStatus.rejected
            images.append({
                "project_id": project.id, "sha256": hashlib.sha256(str(i).encode()).hexdigest(),
                "filename": f"photos/{i:07d}.jpg", "format": "jpeg", "width": 500,
                "height": 375, "orientation": 1, "size_bytes": 40_000,
                "phash": f"{rng.getrandbits(64):016x}", "thumbnail_mime": "image/jpeg",
                "status": ImageStatus.unlabeled, "category_id": None,
                "dup_group_id": (i - i % 3 + 1) if rng.random() < 0.02 else None,
                "dup_checked": True, "created_at": now,
            })  # fmt: skip
            images[-1]["_status"] = status
        wanted = [row.pop("_status") for row in images]
        _insert(session, Image, images)
        session.flush()
        first_id = session.scalar(Image.__table__.select().with_only_columns(Image.id)
                                  .where(Image.project_id == project.id).order_by(Image.id)
                                  .limit(1))  # fmt: skip
        assert first_id is not None
        # Each decision is an annotation; the database trigger puts it on its image.
        decisions = []
        for k, status in enumerate(wanted):
            if status is ImageStatus.unlabeled:
                continue
            labeled = status is ImageStatus.labeled
            decisions.append({
                "project_id": project.id, "image_id": first_id + k,
                "user_id": rng.choice(people),
                "category_id": rng.choice(leaves)[0] if labeled else None,
                "rejected": not labeled, "source": AnnotationSource.manual,
                "second_opinion": False,
                "created_at": now - timedelta(seconds=rng.randrange(14 * 24 * 3600)),
            })  # fmt: skip
        _insert(session, Annotation, decisions)
        run_ids = []
        for r in range(RUNS):
            acc = 0.6 + 0.3 * r / RUNS
            per_class = {name: {"precision": acc, "recall": acc, "f1": acc - 0.1 * (j % 3),
                                "support": 50} for j, (_, name) in enumerate(leaves)}  # fmt: skip
            run = TrainingRun(
                project_id=project.id, mode=RunMode.linear, backbone="efficientnet_lite0",
                status=RunStatus.succeeded, classes=[[cid, name] for cid, name in leaves],
                metrics={"accuracy": acc, "macro_f1": acc - 0.05, "per_class": per_class,
                         "labels": [name for _, name in leaves]},
                label_count=int(len(decisions) * (r + 1) / RUNS),
                finished_at=now - timedelta(hours=RUNS - r),
            )  # fmt: skip
            session.add(run)
            session.flush()
            run_ids.append(run.id)
        newest = run_ids[-1]
        issues = [
            {"run_id": newest, "image_id": d["image_id"], "project_id": project.id,
             "given_category_id": d["category_id"], "suggested_category_id": leaves[0][0],
             "score": rng.random(), "flagged": rng.random() < 0.02, "rank": n}
            for n, d in enumerate(x for x in decisions if x["category_id"] is not None)
        ]  # fmt: skip
        _insert(session, LabelIssue, issues)
        outliers = [
            {"run_id": newest, "image_id": first_id + k, "project_id": project.id,
             "score": rng.random(), "flagged": rng.random() < 0.01, "rank": k}
            for k in range(count)
        ]  # fmt: skip
        _insert(session, OutlierScore, outliers)
        labeled_ids = [d["image_id"] for d in decisions if d["category_id"] is not None]
        overlaps = [
            {"image_id": image_id, "project_id": project.id, "state": OverlapState.disagreed,
             "updated_at": now}
            for image_id in rng.sample(labeled_ids, min(300, len(labeled_ids)))
        ]  # fmt: skip
        _insert(session, Overlap, overlaps)
        session.commit()
        pid = project.id
    engine.dispose()
    return pid


def timed(client: TestClient, url: str, runs: int) -> tuple[float, float, float]:
    """Median and p95 wall time, and median CPU time of this process (server and client
    in one process; the CPU figure is what the request costs when other processes
    compete for the cores, as they did here)."""
    client.get(url)  # warm: template compile, statement cache
    times, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        resp = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        assert resp.status_code == 200, (url, resp.status_code, resp.text[:300])
    times.sort()
    p95 = times[max(0, int(len(times) * 0.95) - 1)]
    return statistics.median(times), p95, statistics.median(cpu)


def parts(settings: Settings, pid: int, runs: int) -> None:
    """Each figure's own time (median), to see where the overview's time goes."""
    engine = make_engine(settings.resolved_database_url)
    with make_sessionmaker(engine)() as session:
        project = session.get(Project, pid)
        assert project is not None
        now = utcnow()
        newest = latest_models(session, pid, 2)
        figures = {
            "progress": lambda: overview.progress(session, project, now),
            "classes": lambda: overview.classes(session, project, newest[0]),
            "per_day": lambda: overview.per_day(session, project, now),
            "runs": lambda: overview.runs(overview.curve_runs(session, project)),
            "quality": lambda: overview.quality(session, project),
            "queue": lambda: overview.queue(session, project),
        }
        for name, call in figures.items():
            call()
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                call()
                times.append((time.perf_counter() - start) * 1000)
            print(f"  {name:12} {statistics.median(times):6.1f} ms")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="curator-overview-")) / "data"
    data.mkdir()
    settings = Settings(env="test", data_dir=data, secret_key="bench-" + "x" * 40)
    start = time.perf_counter()
    pid = populate(settings, args.images)
    print(f"{args.images:,} images and their rows inserted in {time.perf_counter() - start:.1f} s")
    with TestClient(create_app(settings)) as client:
        page = client.get("/login").text
        marker = 'name="csrf_token" value="'
        token = page[page.index(marker) + len(marker) :].split('"', 1)[0]
        login = {"username": "bench", "password": SECRET, "csrf_token": token}
        assert client.post("/login", data=login, follow_redirects=False).status_code == 303
        results: dict[str, tuple[float, float, float]] = {}
        results["baseline GET /api/v1/health"] = timed(client, "/api/v1/health", args.runs)
        results[f"baseline gallery /projects/{pid}/images"] = timed(
            client, f"/projects/{pid}/images", args.runs
        )
        overview_extra = PAGE_EXTRAS.pop("overview")
        try:
            results[f"baseline /projects/{pid} without the overview"] = timed(
                client, f"/projects/{pid}", args.runs
            )
        finally:
            PAGE_EXTRAS["overview"] = overview_extra
        results[f"/projects/{pid} (the overview)"] = timed(client, f"/projects/{pid}", args.runs)
        results[f"/api/v1/projects/{pid}/stats"] = timed(
            client, f"/api/v1/projects/{pid}/stats", args.runs
        )
    bare = results[f"baseline /projects/{pid} without the overview"][0]
    gallery = results[f"baseline gallery /projects/{pid}/images"][0]
    print(f"{'request':48} median    p95    cpu   (ms)")
    for name, (median, p95, cpu) in results.items():
        ratio = (
            ""
            if name.startswith("baseline")
            else (f"   x{median / gallery:.1f} gallery, x{median / bare:.1f} bare page")
        )
        print(f"{name:48} {median:6.1f} {p95:6.1f} {cpu:6.1f}{ratio}")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("each figure of /stats, median wall time:")
    parts(settings, pid, max(5, args.runs // 3))


if __name__ == "__main__":
    main()
