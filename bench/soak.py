"""Soak: 50 labelers for 2 minutes against `make run` with two web processes, with faults.

Run: .venv/bin/python bench/soak.py [--labelers 50] [--seconds 120] [--pace 2.0]

Setup (not timed): a fresh data dir and SQLite database; --images distinct 320x240
JPEGs cut from the flowers12 photos, prepared by the importer's own
`app.imports.ingest.prepare` and recorded unlabeled in one project; a second, small
project gets 8 real photos of each of 3 species through the upload API, so the worker
embeds them and has a model to fine-tune.

Then `make run WEB_WORKERS=2` (the supervisor, a uvicorn master with two worker
processes, and a Celery worker) serves it, and --labelers client threads, each its own
labeler with a bearer token, loop `queue/next` then `POST annotations` at one decision
per --pace seconds each, as people would: on a dropped connection they retry the same
decision with the same Idempotency-Key, like the labeling screen. Meanwhile, on a timer:

- a fine-tuning run starts on the small project (the worker is busy with it);
- the Celery worker's main process is killed with -9;
- one uvicorn worker process is killed with -9;
- `curator backup` runs to completion.

The report: acknowledged labels lost (every 201's annotation id must be in the database
at the end, once); images handed to two labelers (every image handed out is labeled at
once here, so a second hand-out is a double lease); p50 and p99 client-side latency of
`queue/next` and of annotations, during each fault's window and outside all of them;
the seconds until each killed process served again (the worker: it answers a Celery
ping; the web process: its replacement is up and the server answers); how the killed
worker's run ended; the backup's size and time.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx2 as httpx  # noqa: E402

PHOTOS = ROOT.parent / "shared" / "datasets" / "flowers12" / "train"
ADMIN_PASSWORD = "soak admin password"  # noqa: S105 - a throwaway instance
LABELER_PASSWORD = "soak labeler password"  # noqa: S105


def _photo(args: tuple[int, str, str]) -> object:
    from PIL import Image

    from app.images.storage import ImageStore
    from app.imports.decode import DecodeLimits
    from app.imports.ingest import prepare

    seed, photo, data_dir = args
    rng = random.Random(seed)
    with Image.open(photo) as img:
        w, h = img.size
        cw, ch = int(w * rng.uniform(0.7, 0.95)), int(h * rng.uniform(0.7, 0.95))
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        made = img.convert("RGB").crop((x, y, x + cw, y + ch)).resize((320, 240))
        made.putpixel((0, 0), (seed % 256, seed // 256 % 256, seed // 65536 % 256))
        out = io.BytesIO()
        made.save(out, "JPEG", quality=85)
    return prepare(
        f"soak/{seed}.jpg", out.getvalue(), ImageStore(Path(data_dir)), DecodeLimits(), ()
    )


def populate(data_dir: Path, images: int) -> int:
    """The labeling project with ``images`` unlabeled images; returns its id."""
    from app.auth import service as auth
    from app.auth.models import Role
    from app.db import make_engine, make_sessionmaker
    from app.images.models import BatchStatus, ImportBatch
    from app.imports.ingest import Prepared
    from app.imports.recorder import Recorder
    from app.migrate import upgrade
    from app.projects.service import create_project

    url = f"sqlite:///{data_dir / 'curator.db'}"
    upgrade(url)
    photos = sorted(str(p) for p in PHOTOS.rglob("*.jpg"))
    jobs = [(i, photos[i % len(photos)], str(data_dir)) for i in range(images)]
    with Pool(2) as pool:
        prepared = [p for p in pool.imap(_photo, jobs, chunksize=64) if isinstance(p, Prepared)]
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        admin = auth.create_user(session, "admin", ADMIN_PASSWORD, Role.admin)
        project = create_project(session, admin, "Soak")
        batch = ImportBatch(
            project_id=project.id, source="cli", name="soak", status=BatchStatus.running
        )
        session.add(batch)
        session.flush()
        recorder = Recorder(session, batch, admin.id)
        for start in range(0, len(prepared), 500):
            recorder.record([(p, None) for p in prepared[start : start + 500]])
            session.commit()
        batch.status = BatchStatus.succeeded
        session.commit()
        project_id = project.id
    engine.dispose()
    return project_id


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def descendants(pid: int) -> list[int]:
    found = []
    for child in children(pid):
        found += [child, *descendants(child)]
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def find(root: int, predicate: Callable[[str], bool]) -> list[int]:
    return [p for p in descendants(root) if predicate(cmdline(p))]


def is_celery_main(cmd: str) -> bool:
    return "app.cli worker" in cmd


def is_uvicorn_master(cmd: str) -> bool:
    return "uvicorn" in cmd and "app.main:create_app" in cmd


def uvicorn_workers(root: int) -> list[int]:
    """The serving processes: the master's spawned children, its resource tracker left out."""
    masters = find(root, is_uvicorn_master)
    return [
        c for m in masters for c in children(m)
        if "spawn_main" in cmdline(c) and "resource_tracker" not in cmdline(c)
    ]  # fmt: skip


@dataclass
class Call:
    kind: str  # "next" or "annotate"
    start: float
    seconds: float


@dataclass
class Log:
    calls: list[Call] = field(default_factory=list)
    acknowledged: list[int] = field(default_factory=list)  # annotation ids answered 201
    handed: list[int] = field(default_factory=list)  # image ids queue/next gave out
    errors: list[str] = field(default_factory=list)
    retries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def labeler(base: str, token: str, pid: int, cid: int, pace: float, offset: float,
            stop_at: float, log: Log) -> None:  # fmt: skip
    def send(method: str, url: str, **kw: object) -> httpx.Response | None:
        for _ in range(40):
            try:
                return client.request(method, url, **kw)  # type: ignore[arg-type]
            except httpx.TransportError:
                with log.lock:
                    log.retries += 1
                time.sleep(0.25)
        return None

    with httpx.Client(base_url=base, timeout=30) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        tick = time.monotonic() + offset
        while time.monotonic() < stop_at:
            time.sleep(max(0.0, tick - time.monotonic()))
            tick += pace
            began = time.monotonic()
            resp = send("GET", f"/api/v1/projects/{pid}/queue/next")
            if resp is None or resp.status_code != 200:
                with log.lock:
                    log.errors.append(f"next {resp.status_code if resp else 'no answer'}")
                continue
            image_id = resp.json()["image_id"]
            mid = time.monotonic()
            key = str(uuid.uuid4())
            post = send(
                "POST",
                f"/api/v1/images/{image_id}/annotations",
                json={"category_id": cid},
                headers={"Idempotency-Key": key},
            )
            end = time.monotonic()
            with log.lock:
                log.handed.append(image_id)
                log.calls.append(Call("next", began, mid - began))
                if post is not None and post.status_code in (200, 201):
                    log.calls.append(Call("annotate", mid, end - mid))
                    log.acknowledged.append(post.json()["id"])
                else:
                    log.errors.append(f"annotate {post.status_code if post else 'no answer'}")


def wait_for(check: Callable[[], bool], timeout: float, every: float = 0.2) -> float | None:
    """Seconds until ``check`` holds, or None after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if check():
                return time.monotonic() - start
        except Exception:  # noqa: S110 - a check that cannot answer yet is a "no"
            pass
        time.sleep(every)
    return None


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def small_project_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for species in ("daisy", "pansy", "tigerlily"):
            for photo in sorted((PHOTOS / species).iterdir())[:8]:
                zf.write(photo, f"{species}/{photo.name}")
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labelers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--pace", type=float, default=2.0, help="seconds per decision each")
    parser.add_argument("--images", type=int, default=5000)
    args = parser.parse_args()
    if not PHOTOS.is_dir():
        raise SystemExit(f"flowers12 is missing at {PHOTOS}")

    from tests.support.processes import free_port

    data = Path(tempfile.mkdtemp(prefix="curator-soak-")) / "data"
    data.mkdir()
    t0 = time.perf_counter()
    pid = populate(data, args.images)
    print(f"setup: {args.images:,} images in {time.perf_counter() - t0:.0f} s; data dir {data}")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "CURATOR_DATA_DIR": str(data),
        "CURATOR_ENV": "development",
        "CURATOR_SECRET_KEY": "soak-" + "k" * 40,
        "CURATOR_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    server = subprocess.Popen(
        ["make", "-s", "-C", str(ROOT), "run", "WEB_WORKERS=2", f"PORT={port}"],
        env=env,
        start_new_session=True,
        stdout=open(data.parent / "serve.log", "wb"),  # noqa: SIM115 - lives as long as the server
        stderr=subprocess.STDOUT,
    )
    try:
        if wait_for(lambda: httpx.get(f"{base}/api/v1/health").status_code == 200, 120) is None:
            raise SystemExit(f"the server did not start; see {data.parent / 'serve.log'}")
        run(args, base, pid, server.pid, data, env)
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def run(args: argparse.Namespace, base: str, pid: int, root: int, data: Path,
        env: dict[str, str]) -> None:  # fmt: skip
    from sqlalchemy import create_engine, select

    from app.broker import make_celery
    from app.cli.nodes import worker_node_name
    from app.config import Settings

    admin = httpx.Client(base_url=base, timeout=120)
    form = {"username": "admin", "password": ADMIN_PASSWORD}
    admin.headers["Authorization"] = (
        "Bearer " + admin.post("/api/v1/auth/token", data=form).json()["access_token"]
    )
    cid = admin.post(f"/api/v1/projects/{pid}/categories", json={"name": "flower"}).json()["id"]
    tokens = []
    for n in range(args.labelers):
        name = f"labeler{n}"
        admin.post("/api/v1/users", json={"username": name, "password": LABELER_PASSWORD,
                                          "role": "labeler"})  # fmt: skip
        admin.post(f"/api/v1/projects/{pid}/members", json={"username": name, "role": "labeler"})
        got = admin.post(
            "/api/v1/auth/token", data={"username": name, "password": LABELER_PASSWORD}
        )
        tokens.append(got.json()["access_token"])
    side = admin.post("/api/v1/projects", json={"name": "Soak side"}).json()["id"]
    upload = admin.post(
        f"/api/v1/projects/{side}/images",
        data={"labels_from_folders": "true"},
        files=[("files", ("three.zip", small_project_zip(), "application/zip"))],
    )
    assert upload.status_code in (200, 201, 202), upload.text

    settings = Settings(data_dir=data, secret_key=env["CURATOR_SECRET_KEY"])
    celery = make_celery(settings)
    node = worker_node_name([q.strip() for q in settings.worker_queues.split(",")])

    def worker_answers() -> bool:
        return bool(celery.control.ping(destination=[node], timeout=1.0))

    if wait_for(worker_answers, 120) is None:
        raise SystemExit("the worker never answered a ping")

    log = Log()
    start = time.monotonic()
    stop_at = start + args.seconds
    threads = [
        threading.Thread(
            target=labeler,
            args=(
                base,
                tokens[n],
                pid,
                cid,
                args.pace,
                args.pace * n / args.labelers,
                stop_at,
                log,
            ),
        )
        for n in range(args.labelers)
    ]
    for t in threads:
        t.start()

    windows: dict[str, tuple[float, float]] = {}
    recovery: dict[str, float | None] = {}
    at = [args.seconds * f for f in (1 / 6, 0.3, 0.55, 0.72)]
    run_id: int | None = None

    time.sleep(max(0.0, start + at[0] - time.monotonic()))
    got = admin.post(f"/api/v1/projects/{side}/training-runs", json={"mode": "finetune"})
    run_id = got.json().get("id") if got.status_code == 202 else None
    print(f"t={time.monotonic() - start:5.1f}s fine-tuning run {run_id} ({got.status_code})")
    if run_id is None:
        print(got.text[:300])

    time.sleep(max(0.0, start + at[1] - time.monotonic()))
    # The worker's main process, not its pool child (which shares its command line):
    # descendants() lists a parent before its children.
    old = find(root, is_celery_main)[:1]
    began = time.monotonic()
    for p in old:
        os.kill(p, signal.SIGKILL)
    print(f"t={began - start:5.1f}s kill -9 worker {old}")
    recovery["worker"] = wait_for(
        lambda: bool(set(find(root, is_celery_main)) - set(old)) and worker_answers(), 90
    )
    windows["worker killed"] = (began, time.monotonic() + 2)

    time.sleep(max(0.0, start + at[2] - time.monotonic()))
    before = uvicorn_workers(root)
    victim = before[0]
    began = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    print(f"t={began - start:5.1f}s kill -9 web process {victim} (of {before})")

    def web_back() -> bool:
        now = set(uvicorn_workers(root))
        return (
            len(now) >= len(before)
            and victim not in now
            and (httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200)
        )

    recovery["web process"] = wait_for(web_back, 90)
    windows["web process killed"] = (began, time.monotonic() + 2)

    time.sleep(max(0.0, start + at[3] - time.monotonic()))
    archive = data.parent / "soak-backup.tar"
    began = time.monotonic()
    backup = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "curator"), "backup", str(archive)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    windows["backup"] = (began, time.monotonic())
    backup_s = time.monotonic() - began
    print(f"t={began - start:5.1f}s backup exit {backup.returncode} in {backup_s:.1f} s")
    if backup.returncode:
        print(backup.stderr[-2000:])

    for t in threads:
        t.join()
    elapsed = time.monotonic() - start

    run_state = None
    if run_id is not None:
        wait_for(
            lambda: (
                admin.get(f"/api/v1/training-runs/{run_id}").json()["status"]
                not in ("queued", "running")
            ),
            120,
            1.0,
        )
        body = admin.get(f"/api/v1/training-runs/{run_id}").json()
        run_state = f"{body['status']} ({(body.get('error') or '')[:120]})"

    engine = create_engine(f"sqlite:///{data / 'curator.db'}")
    with engine.connect() as conn:
        from app.labeling.models import Annotation

        stored = set(conn.scalars(select(Annotation.id)))
    engine.dispose()
    acked = set(log.acknowledged)
    lost = len(acked - stored)
    served: dict[int, int] = {}
    for image_id in log.handed:
        served[image_id] = served.get(image_id, 0) + 1
    doubles = sum(1 for n in served.values() if n > 1)

    print(f"\n{args.labelers} labelers for {elapsed:.0f} s at one decision per {args.pace:g} s "
          f"each: {len(acked):,} labels acknowledged, {len(log.handed):,} images handed out, "
          f"{log.retries} retried requests, {len(log.errors)} errors {log.errors[:3]}")  # fmt: skip
    print(f"acknowledged labels lost: {lost}")
    print(f"images handed to two labelers at once: {doubles}")
    for name, seconds in recovery.items():
        shown = f"{seconds:.1f} s" if seconds is not None else "not within 90 s"
        print(f"{name}: served again after {shown}")
    print(f"killed worker's fine-tuning run: {run_state}")
    size = archive.stat().st_size / 2**20 if archive.exists() else 0
    print(f"backup: exit {backup.returncode}, {backup_s:.1f} s, {size:.0f} MiB")

    def window_of(call: Call) -> str:
        for name, (a, b) in windows.items():
            if a <= call.start <= b:
                return name
        return "outside faults"

    print(f"\n{'client latency (ms)':38} {'p50':>7} {'p99':>7}  calls")
    for name in ("outside faults", *windows):
        for kind, label in (("next", "queue/next"), ("annotate", "annotations")):
            values = [
                c.seconds * 1000 for c in log.calls if c.kind == kind and window_of(c) == name
            ]
            if values:
                print(f"{name + ', ' + label:38} {statistics.median(values):7.1f} "
                      f"{pct(values, 0.99):7.1f}  {len(values)}")  # fmt: skip
    if lost or doubles:
        raise SystemExit("FAILED: labels lost or images handed out twice")


if __name__ == "__main__":
    main()
