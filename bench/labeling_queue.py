"""Labeling queue under load: 100,000 images, 50 annotators at once, server latency and
CPU per decision, on SQLite or PostgreSQL, with the filesystem broker or Redis.

Run: .venv/bin/python bench/labeling_queue.py [--images 100000] [--users 50]
        [--seconds 30] [--pace SECONDS ...] [--web-processes 1|2|4]
        [--database sqlite|postgresql] [--broker file|redis] [--deciles]

The rows are inserted directly (as in gallery_latency.py). A live uvicorn serves the
app with --web-processes worker processes on a free port, with a bench-only middleware
that reports each request's server time in a header (bench/queue_server.py). PostgreSQL
is a fresh database on the tests' server (tests/support/postgres.py); Redis is a
redis-server on a free port, as the tests start it. Each client thread is one labeler:
``GET /health`` (the baseline: a request that does nothing; --no-baseline leaves it
out), ``queue/next`` then ``POST annotations``, once per pace, for --seconds.

Per pace: p50/p99 server time per call, decisions/s, and server CPU per decision: the
CPU time of every web process (uvicorn's and its workers', read from /proc) over the
window, divided by the decisions (with the baseline, its health calls' CPU is in
that figure too: --no-baseline measures the two labeling calls alone); on PostgreSQL
the database backends' CPU is shown beside it. At the end: no image was handed out
twice (every image is labeled once here, so a second hand-out would be a double lease)
and every 201 is in the database, once.

Paces: 1 s per decision each is the issue's labeler (50 decisions/s in all with 50
annotators); 0 is flat out, a closed loop where each client sends its next request the
moment the last one returns, so a call's time there is mostly its wait for the CPU
(Little's law); it measures capacity, not the latency a labeler sees.

--deciles: the cost per decision as the project fills up. The project has one class
and auto-train every 20 labels, so every auto-train attempt is refused (too few
classes). Between measured windows the next 10% of the images are labeled directly
in the database (inserting their annotations; the trigger sets the labels), from 0% to
90%; each window reports CPU per decision at that fill, and the last decile's over the
first's must stay near 1.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx2 as httpx
from sqlalchemy import func, select

from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.images.models import Image, ImageStatus
from app.labeling.models import Annotation
from bench import queue_setup as setup


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


class Phase:
    """One measured window: the server times of each call, what was handed out and
    stored, and the CPU it took."""

    def __init__(self, pace: float, label: str = "") -> None:
        self.pace = pace
        self.label = label
        self.times: dict[str, list[float]] = {"health": [], "next": [], "annotate": []}
        self.created: list[int] = []
        self.cpu = 0.0
        self.db_cpu = 0.0
        self.seconds = 0.0


class Bench:
    def __init__(self, base: str, server_pid: int, settings: Settings, tokens: list[str],
                 project_id: int, category_ids: tuple[int, ...],
                 baseline: bool = True) -> None:  # fmt: skip
        self.base, self.server_pid, self.settings = base, server_pid, settings
        self.baseline = baseline
        self.tokens, self.pid, self.cids = tokens, project_id, category_ids
        self.holds: list[int] = []
        self.errors: list[str] = []

    def _db_cpu(self) -> dict[int, float]:
        return {p: setup.cpu_seconds(p) for p in setup.database_pids(self.settings)}

    def run(self, phase: Phase, users: int, seconds: float) -> None:
        lock = threading.Lock()
        barrier = threading.Barrier(users + 1)
        stop_at = [0.0]

        def annotator(n: int) -> None:
            with httpx.Client(base_url=self.base, timeout=60) as client:
                client.headers["Authorization"] = f"Bearer {self.tokens[n]}"
                barrier.wait()
                # Spread the paced annotators over one period, as people would be.
                tick = time.monotonic() + phase.pace * n / users
                while time.monotonic() < stop_at[0]:
                    if phase.pace:
                        time.sleep(max(0.0, tick - time.monotonic()))
                        tick += phase.pace
                    h = client.get("/api/v1/health") if self.baseline else None
                    resp = client.get(f"/api/v1/projects/{self.pid}/queue/next")
                    if resp.status_code != 200:
                        self.errors.append(f"next {resp.status_code}")
                        return
                    image_id = resp.json()["image_id"]
                    post = client.post(
                        f"/api/v1/images/{image_id}/annotations",
                        json={"category_id": self.cids[image_id % len(self.cids)]},
                    )
                    if post.status_code != 201:
                        self.errors.append(f"annotate {post.status_code} {post.text[:200]}")
                        return
                    with lock:
                        if h is not None:
                            phase.times["health"].append(float(h.headers["x-server-ms"]))
                        phase.times["next"].append(float(resp.headers["x-server-ms"]))
                        phase.times["annotate"].append(float(post.headers["x-server-ms"]))
                        self.holds.append(image_id)
                        phase.created.append(post.json()["id"])

        threads = [threading.Thread(target=annotator, args=(n,)) for n in range(users)]
        for t in threads:
            t.start()
        db_before = self._db_cpu()
        cpu_before = setup.cpu_seconds(self.server_pid)
        started = time.monotonic()
        stop_at[0] = started + seconds
        barrier.wait()
        for t in threads:
            t.join()
        phase.seconds = time.monotonic() - started
        phase.cpu = setup.cpu_seconds(self.server_pid) - cpu_before
        db_after = self._db_cpu()
        phase.db_cpu = sum(cpu - db_before.get(p, 0.0) for p, cpu in db_after.items())


def per_decision(phase: Phase) -> tuple[float, float]:
    n = max(len(phase.created), 1)
    return 1000 * phase.cpu / n, 1000 * phase.db_cpu / n


def report(phase: Phase, users: int, name: str) -> None:
    pace = f"one decision per {phase.pace:g} s each" if phase.pace else "flat out (no pause)"
    n = len(phase.created)
    web, db = per_decision(phase)
    db_text = f" + database {db:.1f} ms" if db else ""
    print(f"\n[{name}] {users} annotators for {phase.seconds:.0f} s, {pace}: {n:,} decisions "
          f"({n / phase.seconds:.1f}/s); web CPU {web:.1f} ms per decision{db_text} "
          f"(queue/next + annotation{' + health' if phase.times['health'] else ''})")  # fmt: skip
    print(f"{'server time (ms)':32} {'p50':>7} {'p99':>7} {'max':>7}  calls")
    labels = {"health": "GET /api/v1/health (baseline)", "next": "GET queue/next",
              "annotate": "POST images/{id}/annotations"}  # fmt: skip
    for key, label in labels.items():
        v = phase.times[key]
        if v:
            print(
                f"{label:32} {statistics.median(v):7.2f} {pct(v, 0.99):7.2f} "
                f"{max(v):7.2f}  {len(v)}"
            )


def deciles(bench: Bench, args: argparse.Namespace, name: str) -> list[Phase]:
    phases = []
    for decile in range(10):
        labeled = setup.label_directly(bench.settings, bench.pid, bench.cids,
                                       args.images * decile // 10)  # fmt: skip
        phase = Phase(args.pace[0], f"{labeled:,} labeled")
        bench.run(phase, args.users, args.seconds)
        phases.append(phase)
        report(phase, args.users, f"{name}, {100 * labeled / args.images:.0f}% labeled")
        if bench.errors:
            break
    attempts = (
        "every attempt refused"
        if args.classes == 1
        else "the first attempt starts a run; it stays queued (no worker)"
    )
    print(f"\n[{name}] cost per decision by labeled share ({args.images:,} images, "
          f"{args.classes} class(es), auto-train every {args.auto_train_every}: "
          f"{attempts})")  # fmt: skip
    print(
        f"{'labeled':>10} {'decisions/s':>12} {'web CPU ms':>11} {'db CPU ms':>10} {'p99 next':>9}"
    )
    for phase in phases:
        web, db = per_decision(phase)
        rate = len(phase.created) / phase.seconds
        print(
            f"{phase.label:>10} {rate:12.1f} {web:11.2f} {db:10.2f} "
            f"{pct(phase.times['next'], 0.99):9.2f}"
        )
    first, last = per_decision(phases[0]), per_decision(phases[-1])
    ratio = (last[0] + last[1]) / max(first[0] + first[1], 1e-9)
    print(f"last decile / first (web + db CPU per decision): {ratio:.2f}")
    return phases


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30, help="per window")
    parser.add_argument("--pace", type=float, nargs="+", default=[1.0, 0.0],
                        help="seconds per decision, per annotator (0: flat out)")  # fmt: skip
    parser.add_argument("--web-processes", "--workers", dest="processes", type=int, default=1,
                        help="uvicorn worker processes (curator serve: 1)")  # fmt: skip
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--broker", choices=["file", "redis"], default="file")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false",
                        help="leave GET /health out of each loop: the CPU per decision "
                        "is then queue/next + POST annotations only")  # fmt: skip
    parser.add_argument("--warm-up", type=float, default=0.0,
                        help="seconds flat out before the measured windows, not measured "
                        "(0: none, the first window pays each process's first calls)")  # fmt: skip
    parser.add_argument("--auto-train-every", type=int, default=20)
    parser.add_argument("--classes", type=int, default=1,
                        help="categories, labels alternate (1: auto-train refused)")  # fmt: skip
    parser.add_argument("--deciles", action="store_true",
                        help="CPU per decision, 0%% to 90%% labeled (first --pace)")  # fmt: skip
    args = parser.parse_args()
    name = f"{args.database}+{args.broker}, {args.processes} web process(es)"
    data = Path(tempfile.mkdtemp(prefix="curator-queue-")) / "data"
    data.mkdir()
    with setup.backends(data, args.database, args.broker) as env:
        settings = setup.settings_for(data, env)
        start = time.perf_counter()
        pid, cids = setup.populate(
            settings, args.images, args.users, args.auto_train_every, args.classes
        )
        print(f"[{name}] {args.images:,} images inserted in {time.perf_counter() - start:.1f} s")
        proc, base = setup.serve(data, env, args.processes)
        try:
            tokens = []
            with httpx.Client(base_url=base, timeout=60) as client:
                for n in range(args.users):
                    form = {"username": f"annotator{n}", "password": setup.SECRET}
                    reply = client.post("/api/v1/auth/token", data=form)
                    tokens.append(reply.json()["access_token"])
            bench = Bench(base, proc.pid, settings, tokens, pid, cids, args.baseline)
            warm = Phase(0.0, "warm-up")
            if args.warm_up:
                # Not measured: each web process builds its routes' FastAPI contexts (and
                # SQLAlchemy its compiled statements) on the first calls that reach them.
                bench.run(warm, args.users, args.warm_up)
            if args.deciles:
                phases = deciles(bench, args, name)
            else:
                phases = []
                for pace in args.pace:
                    phase = Phase(pace)
                    bench.run(phase, args.users, args.seconds)
                    report(phase, args.users, name)
                    phases.append(phase)
                    if bench.errors:
                        break
        finally:
            proc.terminate()
            proc.wait(20)
        check(settings, bench, [warm, *phases])


def check(settings: Settings, bench: Bench, phases: list[Phase]) -> None:
    served: dict[int, int] = {}
    for image_id in bench.holds:
        served[image_id] = served.get(image_id, 0) + 1
    doubles = sum(1 for n in served.values() if n > 1)
    created = [a for phase in phases for a in phase.created]
    engine = make_engine(settings.resolved_database_url)
    with make_sessionmaker(engine)() as session:
        stored: set[int] = set()
        for start in range(0, len(created), 5_000):
            chunk = created[start : start + 5_000]
            stored |= set(session.scalars(select(Annotation.id).where(Annotation.id.in_(chunk))))
        labeled = session.scalar(select(func.count()).where(Image.status == ImageStatus.labeled))
    engine.dispose()
    lost = len(set(created) - stored)
    print(f"\nall windows: {len(created):,} annotations through HTTP, {labeled:,} images labeled; "
          f"images handed to two annotators: {doubles}; annotations lost: {lost}; "
          f"duplicate ids: {len(created) - len(set(created))}; "
          f"errors: {len(bench.errors)}")  # fmt: skip
    if doubles or lost or bench.errors or len(created) != len(set(created)):
        raise SystemExit(f"FAILED: {bench.errors[:3]}")


if __name__ == "__main__":
    main()
