"""The active-learning loop's latency in a 10,000-image project, on the CPU.

Run: .venv/bin/python bench/al_loop_latency.py [--images 10000] [--labels 200] [--runs 3]

What the issue asks: after the Nth label, how soon does the queue follow the new model?
The worker's training job runs in this process, end to end against a real SQLite
database: read the labels, read the cached embeddings, 5-fold cross-validation, fit,
predict every image, store the predictions and the evaluated samples, rank the pool
with the project's default strategy and store the ranking. The time until the ranking
is stored is the figure; the model export that follows (TorchScript and ONNX of the
whole backbone, for downloads) is reported apart, since the queue does not wait for it.

Rows are inserted directly and the embeddings are synthetic: 12 clusters in 1,280
dimensions, float16 shards written with workers.ml.shards, as the embed task writes
them (embedding 10,000 photos would take this machine minutes and measure nothing more
here; bench/embed_rate.py measures that). The baseline, in the same run, is the bare ML
work on the same arrays: fit_linear + predict_proba + rank, no database.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
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
from app.images.storage import ImageStore  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.projects import service as projects  # noqa: E402
from app.taxonomy import service as taxonomy  # noqa: E402
from app.taxonomy.schemas import CategoryCreate  # noqa: E402
from app.training.models import Embedding, RunMode, Scoring, TrainingRun  # noqa: E402
from workers.context import WorkerContext  # noqa: E402
from workers.ml import linear, strategies  # noqa: E402
from workers.ml.shards import write_shard  # noqa: E402
from workers.training import run_training  # noqa: E402

CLASSES = 12
DIM = 1280


def populate(settings: Settings, count: int, labels: int) -> tuple[int, np.ndarray, np.ndarray]:
    upgrade(settings.resolved_database_url)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(CLASSES, DIM)).astype(np.float32)
    truth = rng.integers(0, CLASSES, size=count)
    vectors = (centres[truth] + rng.normal(scale=1.5, size=(count, DIM))).astype(np.float16)
    engine = make_engine(settings.resolved_database_url)
    with make_sessionmaker(engine)() as session:
        user = auth.create_user(session, "bench", "bench " + "password", Role.admin)
        project = projects.create_project(session, user, "Loop")
        project.auto_train_every = 0  # the bench starts its own runs
        cats = [
            taxonomy.create_category(session, project, CategoryCreate(name=f"class {c}"))
            for c in range(CLASSES)
        ]
        session.commit()
        now = utcnow()
        rows = [
            {
                "project_id": project.id,
                "sha256": hashlib.sha256(str(i).encode()).hexdigest(),
                "filename": f"photos/{i:06d}.jpg",
                "format": "jpeg",
                "width": 224,
                "height": 224,
                "orientation": 1,
                "size_bytes": 20_000,
                "phash": f"{i:016x}",
                "thumbnail_mime": "image/jpeg",
                "status": ImageStatus.labeled if i < labels else ImageStatus.unlabeled,
                "category_id": cats[truth[i]].category.id if i < labels else None,
                "dup_checked": True,
                "created_at": now,
            }
            for i in range(count)
        ]
        ids = [r[0] for r in session.execute(insert(Image).returning(Image.id), rows)]
        folder = settings.data_dir / "embeddings" / project.backbone
        index = []
        for start in range(0, count, 256):
            shard = write_shard(folder, vectors[start : start + 256])
            index += [
                {"image_id": ids[start + r], "backbone": project.backbone, "shard": shard,
                 "row": r, "error": None}
                for r in range(len(vectors[start : start + 256]))
            ]  # fmt: skip
        session.execute(insert(Embedding), index)
        session.commit()
        pid = project.id
    engine.dispose()
    return pid, vectors.astype(np.float32), truth


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--labels", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="curator-loop-")) / "data"
    data.mkdir()
    settings = Settings(env="test", data_dir=data, secret_key="bench-" + "x" * 40, ml_device="cpu")
    pid, vectors, truth = populate(settings, args.images, args.labels)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    ctx = WorkerContext(settings, sessions, ImageStore(settings.data_dir))

    base: list[float] = []
    for _ in range(args.runs):
        start = time.perf_counter()
        model = linear.fit_linear(vectors[: args.labels], truth[: args.labels])
        probs = linear.predict_proba(model, vectors[args.labels :])
        strategies.rank(
            "default",
            embeddings=vectors,
            pool=np.arange(args.labels, args.images),
            labeled=np.arange(args.labels),
            probs=probs,
        )
        base.append(time.perf_counter() - start)

    ranked: list[float] = []
    total: list[float] = []
    for _ in range(args.runs):
        with sessions() as session:
            run = TrainingRun(project_id=pid, mode=RunMode.linear, backbone="efficientnet_lite0")
            session.add(run)
            session.commit()
            rid = run.id
        started = utcnow()
        start = time.perf_counter()
        run_training(ctx, rid)
        total.append(time.perf_counter() - start)
        with sessions() as session:
            done = session.get_one(TrainingRun, rid)
            assert done.status.value == "succeeded", done.error
            scoring = session.get_one(Scoring, (pid, "default"))
            assert scoring.run_id == rid
            ranked.append((scoring.created_at - started).total_seconds())
    b, r, t = statistics.median(base), statistics.median(ranked), statistics.median(total)
    print(f"{args.images:,} images, {args.labels} labels, {CLASSES} classes, median of {args.runs}")
    print(f"{'baseline: fit + predict + rank, arrays only':48} {b:6.2f} s")
    print(
        f"{'run start -> queue ranking stored (the figure)':48} {r:6.2f} s   x{r / b:.1f} baseline"
    )
    print(f"{'run start -> model exported (downloads ready)':48} {t:6.2f} s")


if __name__ == "__main__":
    main()
