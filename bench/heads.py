"""The heads of a linear run (logreg, svm, mlp) on flowers12: accuracy, macro-F1 and fit time.

Train on flowers12's train split, test on its test split, at species level (12 classes)
and at family level (6 families, the botanical hierarchy of the datasets README). Two
label budgets: every train photo (720), and 10 per class drawn by the seed. 5 seeds.
Each head is fitted as a linear run fits it (``workers.ml.heads.fit_head``, unit-length
rows, the head's default settings), one BLAS and one torch thread. Fit time is the final
fit only (a run also cross-validates, which costs about ``folds`` more fits). Logistic
regression is the baseline, measured in the same run: the table gives each head's
accuracy change in points and its fit-time ratio against it.

Lite0 embeddings are computed once and cached with ``workers.ml.shards`` under --cache
(a temporary directory by default, never the repository). Not a timed test.

    .venv/bin/python bench/heads.py [--seeds 5] [--cache DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.datasets import FLOWERS12  # noqa: E402
from workers.ml import heads  # noqa: E402
from workers.ml.shards import read_rows, write_shard  # noqa: E402

BACKBONE = "efficientnet_lite0"
FAMILY = {
    "daisy": "Asteraceae", "dandelion": "Asteraceae", "sunflower": "Asteraceae",
    "colts-foot": "Asteraceae", "buttercup": "Ranunculaceae", "windflower": "Ranunculaceae",
    "fritillary": "Liliaceae", "tigerlily": "Liliaceae", "bluebell": "Asparagaceae",
    "lily-valley": "Asparagaceae", "iris": "Iridaceae", "pansy": "Violaceae",
}  # fmt: skip
PER_CLASS = 10  # the small budget: labels per class


def load_split(split: str, cache: Path) -> tuple[np.ndarray, list[str]]:
    """(embeddings, species name) of one split, embedded once then read from shards."""
    paths = sorted((FLOWERS12 / split).glob("*/*.jpg"))
    if not paths:
        raise SystemExit(f"flowers12 is missing: no photos under {FLOWERS12 / split}")
    names = [str(p.relative_to(FLOWERS12)) for p in paths]
    species = [p.parent.name for p in paths]
    # A changed or replaced photo changes the key, so a stale cache is never read.
    stamps = [
        f"{n}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for n, p in zip(names, paths, strict=True)
    ]
    key = hashlib.sha256("\n".join([BACKBONE, *stamps]).encode()).hexdigest()[:16]
    index = cache / f"{split}-{key}.json"
    if index.exists():
        where = json.loads(index.read_text())
        return read_rows(cache, [(where[n][0], where[n][1]) for n in names]), species
    from workers.ml.embed import embed_files  # torch only when embedding

    started = time.perf_counter()
    result = embed_files(paths, BACKBONE)
    if result.errors:
        raise SystemExit(f"unreadable photos: {result.errors}")
    cache.mkdir(parents=True, exist_ok=True)
    shard = write_shard(cache, result.vectors)
    index.write_text(json.dumps({names[i]: [shard, row] for row, i in enumerate(result.ok)}))
    took = time.perf_counter() - started
    print(f"embedded {len(paths)} {split} photos with {BACKBONE} in {took:.0f} s "
          f"(cached under {cache})", file=sys.stderr)  # fmt: skip
    return result.vectors.astype(np.float32), species


def subset(y: np.ndarray, per_class: int | None, seed: int) -> np.ndarray:
    """Row indices: every row, or ``per_class`` rows of each class drawn by the seed."""
    if per_class is None:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    picked = [rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)]
    return np.sort(np.concatenate(picked))


def measure(
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    per_class: int | None,
    seeds: int,
) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {
        h: {"acc": [], "f1": [], "fit": []} for h in heads.HEADS
    }
    for seed in range(seeds):
        rows = subset(train[1], per_class, seed)
        # Heads in turn within each seed, so a busy moment hits all of them alike.
        for name in heads.HEADS:
            started = time.perf_counter()
            model = heads.fit_head(name, train[0][rows], train[1][rows], seed=seed)
            out[name]["fit"].append(time.perf_counter() - started)
            predicted = model.classes[heads.predict_proba(model, test[0]).argmax(axis=1)]
            out[name]["acc"].append(float((predicted == test[1]).mean()))
            out[name]["f1"].append(float(f1_score(test[1], predicted, average="macro")))
    return out


def spread(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {sd:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    default_cache = Path(tempfile.gettempdir()) / "curator-bench" / "flowers12-lite0"
    parser.add_argument("--cache", type=Path, default=default_cache)
    args = parser.parse_args()

    import torch  # the MLP's threads: one, like the BLAS threads of the other heads

    torch.set_num_threads(1)
    train_x, train_species = load_split("train", args.cache)
    test_x, test_species = load_split("test", args.cache)
    print("| level | labels | head | accuracy | macro-F1 | fit s (median) "
          "| accuracy vs logreg | fit time vs logreg |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for level, name_of in (("species", lambda s: s), ("family", FAMILY.__getitem__)):
        train_y = np.array([name_of(s) for s in train_species])
        test_y = np.array([name_of(s) for s in test_species])
        for per_class in (PER_CLASS, None):
            found = measure((train_x, train_y), (test_x, test_y), per_class, args.seeds)
            labels = len(train_y) if per_class is None else per_class * len(np.unique(train_y))
            base_acc = statistics.mean(found["logreg"]["acc"])
            base_fit = statistics.median(found["logreg"]["fit"])
            for head, got in found.items():
                fit = statistics.median(got["fit"])
                gain = (statistics.mean(got["acc"]) - base_acc) * 100
                print(f"| {level} | {labels} | {head} | {spread(got['acc'])} | "
                      f"{spread(got['f1'])} | {fit:.3f} | {gain:+.1f} pt | "
                      f"{fit / base_fit:.2f}x |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
