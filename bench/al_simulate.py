"""Active-learning simulation on flowers12: how many labels each query strategy saves.

An oracle plays the annotators. Every run starts from 0 labels; each round asks
``workers.ml.strategies.rank`` for the top B (12) images of the unlabeled pool, "labels"
them from their folder names, retrains the project's probe (``fit_linear``) and records
its accuracy, up to --budget labels, for --seeds seeds per strategy. The embeddings come
from ``workers.ml.embed.embed_files`` and are cached with ``workers.ml.shards`` under
--cache, so only the first run pays for embedding.

Protocols:
- default: the pool is flowers12 ``train`` (720), the accuracy is on ``test`` (240);
- ``--tune``: ``test`` is never read. Per seed, ``train`` is split into a pool (40 per
  species) and a validation part (20 per species), and candidate schedules of the
  "default" strategy compete; the best one is what ``DEFAULT_SCHEDULE`` should say.

    .venv/bin/python bench/al_simulate.py [--seeds 10] [--budget 300] [--workers 2]
    .venv/bin/python bench/al_simulate.py --tune
"""

from __future__ import annotations

import os

# One BLAS thread per process: lbfgs on a few hundred rows is latency-bound, and on this
# busy 2-core machine competing BLAS threads made fit_linear up to 50x slower. The
# seeds run in parallel processes instead.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from scipy import stats  # type: ignore[import-untyped]  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from workers.ml.linear import DEFAULT_C, fit_linear, predict, predict_proba  # noqa: E402
from workers.ml.shards import read_rows, write_shard  # noqa: E402
from workers.ml.strategies import (  # noqa: E402
    DEFAULT_SCHEDULE,
    STRATEGIES,
    Schedule,
    concrete_strategy,
    rank,
)

FLOWERS = REPO.parent / "shared" / "datasets" / "flowers12"
BACKBONE = "efficientnet_lite0"
TARGET_SHARE = 0.95  # "reaching 95% of the full-pool accuracy"


@dataclass(frozen=True)
class Arm:
    """One curve: a strategy for rank(), optionally a schedule or a different first round."""

    label: str
    strategy: str
    schedule: Schedule | None = None
    first: str | None = None  # the strategy of round one (e.g. random for plain margin)
    balance: bool = False  # rank(..., class_balance=True)

    def choose(self, round_: int, n_labeled: int, n_classes: int | None) -> str:
        if round_ == 0 and self.first is not None:
            return self.first
        if self.schedule is not None:
            return concrete_strategy(self.strategy, n_labeled, n_classes, self.schedule)
        return self.strategy


# --- data ----------------------------------------------------------------------------


def load_split(split: str, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings float32, species) of one split, embedded once then read from shards."""
    paths = sorted((FLOWERS / split).glob("*/*.jpg"))
    if not paths:
        raise SystemExit(f"flowers12 is missing: no photos under {FLOWERS / split}")
    names = [str(p.relative_to(FLOWERS)) for p in paths]
    # A changed or replaced photo changes the key, so a stale cache is never read.
    stats_ = [p.stat() for p in paths]
    stamps = [f"{n}:{st.st_size}:{st.st_mtime_ns}" for n, st in zip(names, stats_, strict=True)]
    key = hashlib.sha256("\n".join([BACKBONE, *stamps]).encode()).hexdigest()[:16]
    index = cache / f"{split}-{key}.json"
    species = np.asarray([p.parent.name for p in paths])
    if index.exists():
        where = json.loads(index.read_text())
        return read_rows(cache, [(where[n][0], where[n][1]) for n in names]), species
    from workers.ml.embed import embed_files  # torch is imported only when embedding

    started = time.perf_counter()
    result = embed_files(paths, BACKBONE)
    if result.errors:
        raise SystemExit(f"unreadable photos: {result.errors}")
    shard = write_shard(cache, result.vectors)
    index.write_text(json.dumps({names[i]: [shard, row] for row, i in enumerate(result.ok)}))
    print(
        f"embedded {len(paths)} {split} photos in {time.perf_counter() - started:.0f} s "
        f"(cached under {cache})",
        file=sys.stderr,
    )
    return result.vectors.astype(np.float32), species


DATA: dict[str, np.ndarray] = {}  # filled before the worker processes fork


@dataclass(frozen=True)
class Setup:
    tune: bool  # train split only (pool + validation), see the module docstring
    rare: int  # > 0: every other species keeps only this many photos in the pool
    budget: int
    batch: int


def protocol(seed: int, setup: Setup) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(pool X, pool y, eval X, eval y) for one seed."""
    X, y = DATA["train_X"], DATA["train_y"]
    pool, val = np.arange(len(y)), np.zeros(0, dtype=np.intp)
    if setup.tune:
        rng = np.random.default_rng(10_000 + seed)
        parts = [rng.permutation(np.flatnonzero(y == s)) for s in np.unique(y)]
        pool = np.concatenate([p[:40] for p in parts])
        val = np.concatenate([p[40:60] for p in parts])
    if setup.rare:
        rare_species = np.unique(y)[::2]
        keep = [
            rows if s not in rare_species else rows[: setup.rare]
            for s in np.unique(y)
            for rows in [pool[y[pool] == s]]
        ]
        pool = np.concatenate(keep)
    if setup.tune:
        return X[pool], y[pool], X[val], y[val]
    return X[pool], y[pool], DATA["test_X"], DATA["test_y"]


# --- the loop ------------------------------------------------------------------------


def simulate(arm: Arm, seed: int, setup: Setup) -> list[float]:
    X, y, X_eval, y_eval = protocol(seed, setup)
    batch = setup.batch
    labeled = np.zeros(0, dtype=np.intp)
    probs: np.ndarray | None = None
    balance: dict[str, Any] = {}
    accuracies: list[float] = []
    for round_ in range((setup.budget + batch - 1) // batch):
        unlabeled = np.setdiff1d(np.arange(len(X)), labeled)
        n_classes = None if probs is None else probs.shape[1]
        name = arm.choose(round_, len(labeled), n_classes)
        ranking = rank(
            name,
            embeddings=X,
            pool=unlabeled,
            labeled=labeled,
            probs=probs,
            batch_size=batch,
            # A new seed every round, as the product's scoring uses the run's id. With one
            # seed, "random" drew the same random numbers each round over a pool that had
            # only shifted by the picked rows, so its picks bunched up next to the last
            # round's (the photos are sorted by species): far from a random sample.
            seed=seed * 1_000 + round_,
            **balance,
        )
        labeled = np.concatenate([labeled, unlabeled[ranking.order[:batch]]])
        seen = np.unique(y[labeled])
        if len(seen) < 2:  # one class: no classifier yet, every answer is that class
            accuracies.append(float(np.mean(y_eval == seen[0])))
            probs, balance = None, {}
            continue
        model = fit_linear(X[labeled], y[labeled], seed=seed)
        accuracies.append(float(np.mean(predict(model, X_eval) == y_eval)))
        probs = predict_proba(model, X[np.setdiff1d(np.arange(len(X)), labeled)])
        if arm.balance:  # the probs column of each labeled image
            balance = {
                "class_balance": True,
                "labeled_classes": np.searchsorted(model.classes, y[labeled]),
            }
    return accuracies


def _job(args: tuple[Arm, int, Setup]) -> tuple[str, int, list[float]]:
    arm, seed, setup = args
    return arm.label, seed, simulate(arm, seed, setup)


def full_pool_accuracy(seeds: list[int], setup: Setup) -> float:
    scores = []
    for seed in seeds if setup.tune else seeds[:1]:  # the test protocol's pool is fixed
        X, y, X_eval, y_eval = protocol(seed, setup)
        scores.append(float(np.mean(predict(fit_linear(X, y, seed=seed), X_eval) == y_eval)))
    return float(np.mean(scores))


# --- reporting -----------------------------------------------------------------------


def labels_to_reach(mean: np.ndarray, budgets: np.ndarray, target: float) -> int | None:
    hit = np.flatnonzero(mean >= target)
    return int(budgets[hit[0]]) if len(hit) else None


def report(
    curves: dict[str, np.ndarray], budgets: np.ndarray, full: float, measured_on: str
) -> list[str]:
    """Prints the two tables; returns the labels in order of merit."""
    n = next(iter(curves.values())).shape[0]
    half = stats.t.ppf(0.975, n - 1) / np.sqrt(n) if n > 1 else 0.0
    labels = list(curves)
    print(f"\nmean {measured_on} accuracy, ± half-width of the 95% CI over {n} seeds")
    widths = [max(11, len(a)) for a in labels]
    print("labels  " + "  ".join(f"{a:>{w}}" for a, w in zip(labels, widths, strict=True)))
    for j, b in enumerate(budgets):
        cells = [f"{c[:, j].mean():.3f}±{half * c[:, j].std(ddof=1):.3f}" for c in curves.values()]
        print(f"{b:6d}  " + "  ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)))
    target = TARGET_SHARE * full
    random_need = labels_to_reach(curves["random"].mean(0), budgets, target)
    random_mean = curves["random"].mean()
    print(f"\nfull pool ({full:.4f}) x {TARGET_SHARE} = target {target:.4f}")
    print(
        f"{'strategy':28s} {'labels to target':>16s} {'saved vs random':>15s} "
        f"{'mean acc 12..' + str(budgets[-1]):>16s} {'vs random':>9s} {'AUC':>7s} {'acc@12':>7s}"
    )
    merit = []
    for label, c in curves.items():
        mean = c.mean(0)
        need = labels_to_reach(mean, budgets, target)
        saved = (
            "-" if need is None or random_need is None else f"{100 * (1 - need / random_need):.0f}%"
        )
        auc = np.trapezoid(mean, budgets) / (budgets[-1] - budgets[0])
        lift = 100 * (mean.mean() - random_mean)
        print(
            f"{label:28s} {need if need else '>' + str(budgets[-1]):>16} {saved:>15s} "
            f"{mean.mean():16.4f} {lift:+8.1f}p {auc:7.4f} {mean[0]:7.3f}"
        )
        merit.append((need or 10**9, -mean.mean(), label))
    return [label for *_, label in sorted(merit)]


# --- one loop iteration at product scale ---------------------------------------------


def _seconds(repeats: int, call: Callable[..., object], *args: object, **kwargs: object) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call(*args, **kwargs)
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def report_timing(train_X: np.ndarray, train_y: np.ndarray, test_X: np.ndarray) -> None:
    """Train on 300 labels, then score a pool of 10,000 (and 100,000) images.

    The pools are flowers12's 960 real embeddings tiled, each copy moved by Gaussian
    noise (5% of each feature's spread) so that no two rows are equal; float16, as in
    the shards. One process, one BLAS thread.
    """
    rng = np.random.default_rng(0)
    real = np.vstack([train_X, test_X])
    chosen = rng.choice(len(train_X), 300, replace=False)
    fit_s = _seconds(3, fit_linear, train_X[chosen], train_y[chosen])
    model = fit_linear(train_X[chosen], train_y[chosen])
    print(
        "\none loop iteration on the CPU (1 process, 1 BLAS thread): fit_linear on 300 "
        f"labels {fit_s:.3f} s (median of 3); pools of tiled real embeddings + noise"
    )
    print(f"{'pool':>7s} {'predict_proba':>13s} " + " ".join(f"{n:>15s}" for n in TIMED))
    for n in (10_000, 100_000):
        rows = rng.integers(0, len(real), n)
        noisy = real[rows] + rng.normal(0.0, 0.05, (n, real.shape[1])) * real.std(0)
        emb = np.vstack([noisy, train_X[chosen]]).astype(np.float16)
        pool, labeled = np.arange(n), np.arange(n, n + len(chosen))
        repeats = 3 if n <= 10_000 else 1
        predict_s = _seconds(repeats, predict_proba, model, emb[:n])
        probs = predict_proba(model, emb[:n])
        cells = []
        for strategy, warm in TIMED.values():
            kwargs = (
                {"labeled": labeled, "probs": probs} if warm else {"labeled": [], "probs": None}
            )
            seconds = _seconds(repeats, rank, strategy, embeddings=emb, pool=pool, **kwargs)
            cells.append(f"{seconds:14.3f}s")
        print(f"{n:7d} {predict_s:12.3f}s " + " ".join(cells))


# label -> (strategy, with a model and 300 labels?)
TIMED = {
    "default (warm)": ("default", True),
    "default (cold)": ("default", False),
    "typiclust": ("typiclust", False),
    "cluster_margin": ("cluster_margin", True),
    "kcenter (warm)": ("kcenter", True),
    "margin": ("margin", True),
}


def arms_for(tune: bool, balance: bool) -> list[Arm]:
    if balance:
        return [
            Arm("random", "random"),
            Arm("default", "default"),
            Arm("default_balanced", "default", balance=True),
            Arm("margin", "margin"),
            Arm("margin_balanced", "margin", balance=True),
        ]
    if not tune:
        named = [Arm(s, s) for s in STRATEGIES if s not in ("random", "default")]
        return [
            Arm("random", "random"),
            Arm("default", "default"),
            *named,
            Arm("margin_random_start", "margin", first="random"),
        ]
    grid = [Schedule("kmeans", "cluster_margin", m) for m in (0, 2, 3, 4)]
    grid += [
        Schedule("typiclust", "cluster_margin", 3),
        Schedule("kmeans", "kcenter", 3),
        Schedule("kmeans", "margin", 3),
        Schedule("typiclust", "margin", 0),
    ]
    return [Arm("random", "random")] + [
        Arm(f"{s.cold}>{s.warm}@{s.labels_per_class:g}", "default", schedule=s) for s in grid
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--batch", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tune", action="store_true", help="train split only; pick the schedule")
    parser.add_argument("--strategies", help="comma-separated arm labels to run (default: all)")
    parser.add_argument(
        "--rare", type=int, default=0, help="every other species keeps only N pool photos"
    )
    parser.add_argument(
        "--class-balance",
        action="store_true",
        help="compare default and margin with and without class_balance (use with --rare)",
    )
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--cache", type=Path, default=REPO / "data" / "bench" / "flowers12")
    args = parser.parse_args()
    started = time.perf_counter()

    DATA["train_X"], DATA["train_y"] = load_split("train", args.cache)
    if not args.tune:
        DATA["test_X"], DATA["test_y"] = load_split("test", args.cache)
    seeds = list(range(args.seeds))
    arms = arms_for(args.tune, args.class_balance)
    if args.strategies:
        wanted = {"random", *args.strategies.split(",")}
        arms = [a for a in arms if a.label in wanted]
    budgets = np.arange(1, (args.budget + args.batch - 1) // args.batch + 1) * args.batch
    setup = Setup(args.tune, args.rare, args.budget, args.batch)
    full = full_pool_accuracy(seeds, setup)

    jobs = [(arm, seed, setup) for arm in arms for seed in seeds]
    results: dict[str, dict[int, list[float]]] = {arm.label: {} for arm in arms}
    with multiprocessing.get_context("fork").Pool(args.workers) as workers:
        for label, seed, accuracies in workers.imap_unordered(_job, jobs):
            results[label][seed] = accuracies
            if len(results[label]) == len(seeds):
                print(f"done: {label} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    curves = {label: np.asarray([r[s] for s in seeds]) for label, r in results.items()}

    protocol_name = (
        "train split: pool 40/species, validation 20/species, per seed"
        if args.tune
        else f"pool = train ({len(protocol(0, setup)[1])}), accuracy on test (240)"
    )
    if args.rare:
        protocol_name += f"; every other species keeps {args.rare} photos in the pool"
    print(
        f"flowers12, {BACKBONE} embeddings, fit_linear (C={DEFAULT_C:g}, unit-length rows, "
        f"balanced), {protocol_name}; "
        f"B={args.batch}, budgets {budgets[0]}..{budgets[-1]}, {len(seeds)} seeds"
    )
    merit = report(curves, budgets, full, "validation" if args.tune else "test")
    if args.tune and not args.class_balance:
        best = merit[0] if merit[0] != "random" else merit[1]
        current = next(a.label for a in arms if a.schedule == DEFAULT_SCHEDULE)
        print(f"\nbest schedule on the train split: {best}; DEFAULT_SCHEDULE is {current}")
    elif not args.no_timing and not args.tune:
        report_timing(DATA["train_X"], DATA["train_y"], DATA["test_X"])
    print(f"\ntotal wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
