"""Linear probe on 100,000 images from cached embeddings: train, evaluate, predict.

The pool is 100,000 float16 1280-d vectors written with ``workers.ml.shards`` in shards
of 256 rows (the app's embedding batch), so reading them back is part of the figure.
Vectors are synthetic: 12 class centres plus noise, non-negative and on features of
different scales like pooled CNN features. 2,000 of them are the labeled set.

Timed, as a linear training run does it (workers/training.py): read the labeled rows,
5-fold ``cross_val_predict``, ``fit_linear`` on all of them, then read and
``predict_proba`` the whole pool in chunks of 20,000. The baseline, in the same run: a
scikit-learn pipeline (Normalizer + LogisticRegression, same options) fitted the
same way, predicting with its own ``predict_proba``, once as it comes and once with
BLAS limited to one thread (what ``fit_linear`` does). Not a timed test.

    .venv/bin/python bench/linear_probe.py [--pool 100000] [--labeled 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import Normalizer
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workers.ml.linear import DEFAULT_C, cross_val_predict, fit_linear, predict_proba
from workers.ml.shards import read_rows, write_shard

DIM, CLASSES, SHARD_ROWS, CHUNK, FOLDS, NOISE = 1280, 12, 256, 20_000, 5, 15.0


def make_pool(folder: Path, n: int, seed: int) -> tuple[list[tuple[str, int]], np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.gamma(1.0, 1.0, size=(CLASSES, DIM)) * rng.uniform(0.2, 3.0, size=DIM)
    labels = rng.integers(0, CLASSES, size=n)
    locations: list[tuple[str, int]] = []
    for start in range(0, n, SHARD_ROWS):
        part = labels[start : start + SHARD_ROWS]
        # Enough noise that classes overlap (out-of-fold accuracy about 0.9, like
        # flowers12's probe), not a trivially separable toy.
        noise = rng.gamma(1.0, 1.0, size=(len(part), DIM)) * NOISE
        vectors = (centres[part] + noise).astype(np.float16)
        name = write_shard(folder, vectors)
        locations.extend((name, row) for row in range(len(part)))
    return locations, labels


def sklearn_pipeline(seed: int) -> Pipeline:
    return make_pipeline(
        Normalizer(),
        LogisticRegression(C=DEFAULT_C, class_weight="balanced", random_state=seed, max_iter=1000),
    )


def ours(
    folder: Path, locations: list[tuple[str, int]], y: np.ndarray, labeled: np.ndarray
) -> dict[str, float]:
    times: dict[str, float] = {}
    started = time.perf_counter()
    x = read_rows(folder, [locations[i] for i in labeled])
    times["read labeled"] = time.perf_counter() - started
    mark = time.perf_counter()
    oof = cross_val_predict(x, y, folds=FOLDS, seed=0)
    times[f"{FOLDS}-fold cross_val_predict"] = time.perf_counter() - mark
    mark = time.perf_counter()
    model = fit_linear(x, y, seed=0)
    times["fit_linear"] = time.perf_counter() - mark
    mark = time.perf_counter()
    top = np.empty(len(locations), dtype=np.int64)
    for start in range(0, len(locations), CHUNK):
        probs = predict_proba(model, read_rows(folder, locations[start : start + CHUNK]))
        top[start : start + len(probs)] = probs.argmax(axis=1)
    times["read + predict_proba pool"] = time.perf_counter() - mark
    times["total"] = time.perf_counter() - started
    times["_oof_accuracy"] = float(np.mean(oof == y))
    times["_top"] = float(np.mean(model.classes[top][labeled] == y))
    return times


def baseline(
    folder: Path, locations: list[tuple[str, int]], y: np.ndarray, labeled: np.ndarray
) -> dict[str, float]:
    times: dict[str, float] = {}
    started = time.perf_counter()
    x = read_rows(folder, [locations[i] for i in labeled])
    times["read labeled"] = time.perf_counter() - started
    mark = time.perf_counter()
    splitter = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=0)
    oof = np.empty_like(y)
    for train, test in splitter.split(x, y):
        oof[test] = sklearn_pipeline(0).fit(x[train], y[train]).predict(x[test])
    times[f"{FOLDS}-fold cross_val_predict"] = time.perf_counter() - mark
    mark = time.perf_counter()
    model = sklearn_pipeline(0).fit(x, y)
    times["fit_linear"] = time.perf_counter() - mark
    mark = time.perf_counter()
    for start in range(0, len(locations), CHUNK):
        model.predict_proba(read_rows(folder, locations[start : start + CHUNK]))
    times["read + predict_proba pool"] = time.perf_counter() - mark
    times["total"] = time.perf_counter() - started
    times["_oof_accuracy"] = float(np.mean(oof == y))
    return times


def median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: float(np.median([run[key] for run in runs])) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=100_000)
    parser.add_argument("--labeled", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        locations, truth = make_pool(folder, args.pool, seed=0)
        shards = len({name for name, _ in locations})
        print(
            f"pool: {args.pool:,} float16 {DIM}-d vectors in {shards} shards "
            f"(written in {time.perf_counter() - started:.1f} s, not timed)"
        )
        labeled = np.random.default_rng(1).choice(args.pool, size=args.labeled, replace=False)
        y = truth[labeled]
        print(f"labeled: {args.labeled:,} rows over {CLASSES} classes\n")
        runs: dict[str, list[dict[str, float]]] = {"ours": [], "sklearn": [], "single": []}
        for _ in range(args.rounds):  # interleaved, so a busy spell hits all three alike
            runs["ours"].append(ours(folder, locations, y, labeled))
            runs["sklearn"].append(baseline(folder, locations, y, labeled))
            with threadpool_limits(1):
                runs["single"].append(baseline(folder, locations, y, labeled))
        mine, theirs, single = (median(runs[k]) for k in ("ours", "sklearn", "single"))
        print(f"median of {args.rounds} interleaved rounds; load average at the start {load}")
        print(f"{'step':28} {'workers.ml':>11} {'sklearn':>9} {'sklearn, 1 BLAS thread':>23}  (s)")
        for step in (k for k in mine if not k.startswith("_")):
            print(f"{step:28} {mine[step]:11.2f} {theirs[step]:9.2f} {single[step]:23.2f}")
        print(
            f"\nout-of-fold accuracy: workers.ml {mine['_oof_accuracy']:.3f}, "
            f"sklearn {theirs['_oof_accuracy']:.3f}"
        )
        pool = "read + predict_proba pool"
        print(
            f"ratio sklearn/workers.ml, total: {theirs['total'] / mine['total']:.2f}x "
            f"(vs sklearn on 1 BLAS thread {single['total'] / mine['total']:.2f}x); "
            f"pool prediction alone: {theirs[pool] / mine[pool]:.2f}x"
        )
        budget = "met" if mine["total"] <= 10 else "MISSED"
        print(f"target <= 10 s for train + evaluate + predict: {budget} ({mine['total']:.2f} s)")


if __name__ == "__main__":
    main()
