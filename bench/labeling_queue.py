"""Labeling queue under load: 100,000 images, 20 annotators at once, server latency.

Run: .venv/bin/python bench/labeling_queue.py [--images 100000] [--users 20] [--seconds 30]
                                               [--pace SECONDS ...]

The rows are inserted directly (as in gallery_latency.py). A live uvicorn serves the
app in a child process on a free port, with a bench-only middleware that reports each
request's server time in a header; 20 client threads, each its own labeler, loop
``GET /health`` (the baseline: a request that does nothing), ``queue/next`` then
``POST annotations`` for --seconds, once per pace. Per pace it reports p50/p99 server
time per call and the server's CPU time per decision; at the end it checks that no
image was handed out twice (every image is labeled once here, so a second hand-out
would be a double lease) and that every 201 is in the database, once.

The paces: 1 s per decision each is the issue's own labeler ("one decision per
second"), 20 decisions/s in all; 0.5 and 0.25 s are two and four times that; 0 is flat
out, no pause at all. Flat out is a closed loop: each client sends its next request
the moment the last one returns, so the server is always saturated and a call's time
is mostly its wait for the CPU behind the other 19 (Little's law: time = clients in
the server / throughput). It measures capacity, not the latency a labeler sees.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx2 as httpx  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from app.auth import service as auth  # noqa: E402
from app.auth.models import Role  # noqa: E402
from app.config import Settings  # noqa: E402
from app.db import make_engine, make_sessionmaker, utcnow  # noqa: E402
from app.images.models import Image, ImageStatus  # noqa: E402
from app.labeling.models import Annotation  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.projects import service as projects  # noqa: E402
from app.projects.models import ProjectRole  # noqa: E402
from app.taxonomy import service as taxonomy  # noqa: E402
from app.taxonomy.schemas import CategoryCreate  # noqa: E402

SECRET = "bench " + "password"


def populate(settings: Settings, count: int, users: int) -> tuple[int, int]:
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    with make_sessionmaker(engine)() as session:
        boss = auth.create_user(session, "bench", SECRET, Role.admin)
        project = projects.create_project(session, boss, "Bench")
        category = taxonomy.create_category(session, project, CategoryCreate(name="thing"))
        for n in range(users):
            auth.create_user(session, f"annotator{n}", SECRET, Role.labeler)
            projects.add_member(session, project, f"annotator{n}", ProjectRole.labeler)
        now = utcnow()
        rows = [
            {"project_id": project.id, "sha256": hashlib.sha256(str(i).encode()).hexdigest(),
             "filename": f"photos/{i:06d}.jpg", "format": "jpeg", "width": 500, "height": 375,
             "orientation": 1, "size_bytes": 40_000, "phash": f"{i:016x}",
             "thumbnail_mime": "image/jpeg", "status": ImageStatus.unlabeled,
             "dup_checked": True, "created_at": now}
            for i in range(count)
        ]  # fmt: skip
        for start in range(0, len(rows), 10_000):
            session.execute(insert(Image), rows[start : start + 10_000])
        session.commit()
        ids = project.id, category.category.id
    engine.dispose()
    return ids


def serve(data: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    from tests.support.processes import free_port

    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "queue_server:make", "--factory",
        "--app-dir", str(ROOT / "bench"), "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--log-level", "warning",
    ]  # fmt: skip
    env = {**os.environ, "CURATOR_BENCH_DATA": str(data)}
    proc = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/api/v1/health").status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its children (uvicorn's worker
    processes), from Linux's /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return own + sum(cpu_seconds(int(child)) for child in children)


class Phase:
    """One pace: the server times of each call, and what was handed out and stored."""

    def __init__(self, pace: float) -> None:
        self.pace = pace
        self.times: dict[str, list[float]] = {"health": [], "next": [], "annotate": []}
        self.created: list[int] = []
        self.cpu = 0.0


def run_phase(
    base: str, pid: int, cid: int, users: int, seconds: float, phase: Phase,
    tokens: list[str], holds: list[tuple[int, str]], errors: list[str], server_pid: int,
) -> None:  # fmt: skip
    lock = threading.Lock()
    barrier = threading.Barrier(users + 1)
    stop_at = [0.0]

    def annotator(n: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            client.headers["Authorization"] = f"Bearer {tokens[n]}"
            barrier.wait()
            # Spread the paced annotators over one period, as people would be.
            tick = time.monotonic() + phase.pace * n / users
            while time.monotonic() < stop_at[0]:
                if phase.pace:
                    time.sleep(max(0.0, tick - time.monotonic()))
                    tick += phase.pace
                h = client.get("/api/v1/health")
                resp = client.get(f"/api/v1/projects/{pid}/queue/next")
                if resp.status_code != 200:
                    errors.append(f"next {resp.status_code}")
                    return
                image_id = resp.json()["image_id"]
                post = client.post(
                    f"/api/v1/images/{image_id}/annotations", json={"category_id": cid}
                )
                if post.status_code != 201:
                    errors.append(f"annotate {post.status_code} {post.text[:200]}")
                    return
                with lock:
                    phase.times["health"].append(float(h.headers["x-server-ms"]))
                    phase.times["next"].append(float(resp.headers["x-server-ms"]))
                    phase.times["annotate"].append(float(post.headers["x-server-ms"]))
                    holds.append((image_id, f"annotator{n}"))
                    phase.created.append(post.json()["id"])

    threads = [threading.Thread(target=annotator, args=(n,)) for n in range(users)]
    for t in threads:
        t.start()
    stop_at[0] = time.monotonic() + seconds
    cpu_before = cpu_seconds(server_pid)
    barrier.wait()
    for t in threads:
        t.join()
    phase.cpu = cpu_seconds(server_pid) - cpu_before


def report(phase: Phase, users: int, seconds: float) -> None:
    pace = f"one decision per {phase.pace:g} s each" if phase.pace else "flat out (no pause)"
    n = len(phase.created)
    per = 1000 * phase.cpu / max(n, 1)
    print(f"\n{users} annotators for {seconds:.0f} s, {pace}: {n:,} annotations "
          f"({n / seconds:.0f}/s); server CPU {per:.1f} ms per decision "
          f"(queue/next + annotation + health)")  # fmt: skip
    print(f"{'server time (ms)':32} {'p50':>7} {'p99':>7} {'max':>7}  calls")
    labels = {"health": "GET /api/v1/health (baseline)", "next": "GET queue/next",
              "annotate": "POST images/{id}/annotations"}  # fmt: skip
    for key, label in labels.items():
        v = phase.times[key]
        print(f"{label:32} {statistics.median(v):7.2f} {pct(v, 0.99):7.2f} {max(v):7.2f}  {len(v)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30, help="per pace")
    parser.add_argument(
        "--pace",
        type=float,
        nargs="+",
        default=[1.0, 0.5, 0.25, 0.0],
        help="seconds per decision per annotator, one phase each (0: flat out)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes (curator serve: 1)"
    )
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="curator-queue-")) / "data"
    data.mkdir()
    settings = Settings(env="test", data_dir=data, secret_key="bench-" + "x" * 40)
    start = time.perf_counter()
    pid, cid = populate(settings, args.images, args.users)
    print(f"{args.images:,} images inserted in {time.perf_counter() - start:.1f} s")
    proc, base = serve(data, args.workers)
    tokens = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for n in range(args.users):
            form = {"username": f"annotator{n}", "password": SECRET}
            tokens.append(client.post("/api/v1/auth/token", data=form).json()["access_token"])
    holds: list[tuple[int, str]] = []
    errors: list[str] = []
    phases = [Phase(pace) for pace in args.pace]
    try:
        for phase in phases:
            run_phase(base, pid, cid, args.users, args.seconds, phase, tokens, holds, errors,
                      proc.pid)  # fmt: skip
            report(phase, args.users, args.seconds)
            if errors:
                break
    finally:
        proc.terminate()
        proc.wait(10)

    served: dict[int, int] = {}
    for image_id, _ in holds:
        served[image_id] = served.get(image_id, 0) + 1
    doubles = sum(1 for n in served.values() if n > 1)
    created = [a for phase in phases for a in phase.created]
    engine = make_engine(settings.resolved_database_url)
    with make_sessionmaker(engine)() as session:
        stored = set(session.scalars(select(Annotation.id)))
        labeled = session.scalar(select(func.count()).where(Image.status == ImageStatus.labeled))
    engine.dispose()
    lost = len(set(created) - stored)
    print(f"\nall phases: {len(created):,} annotations, {labeled:,} images labeled; "
          f"images handed to two annotators: {doubles}; annotations lost: {lost}; "
          f"duplicates: {len(stored) - len(set(created))}; errors: {len(errors)}")  # fmt: skip
    if doubles or lost or errors or len(stored) != len(created):
        raise SystemExit(f"FAILED: {errors[:3]}")


if __name__ == "__main__":
    main()
