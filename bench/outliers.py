"""Odd pictures among flowers12: AUROC of each outlier score, per kind of odd picture.

The project: flowers12 ``train/`` with sunflower and windflower held out is the labeled
set (10 species, 600 photos); ``test/`` of the same 10 species is unlabeled and in scope
(200 photos). Mixed in, unlabeled, ``--per-kind`` pictures (default 20) of each kind:
noise frames, flat colours, gradients, text rendered with Pillow, photos that are not
flowers (scikit-image's samples, cropped differently), and the two held-out species.
Every picture is embedded with the product's EfficientNet-Lite0 path
(``workers.ml.embed.embed_files``) and cached under ``--cache``.

For each kind: AUROC of odd pictures of that kind against the unlabeled in-scope
photos (the harder comparison: labeled photos are what the scores are calibrated on).
Scores compared: the product's (``workers.ml.outliers.score_outliers``), cleanlab's
``OutOfDistribution`` on features, plain kNN distance (k = 5 and 20, over every image),
and the distance to the nearest labeled class centre. Also the product's flagged set:
how many odd pictures and how many in-scope photos it flags.

    .venv/bin/python bench/outliers.py [--per-kind 20] [--cache data/bench/outliers]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support import odd_pictures  # noqa: E402
from tests.support.datasets import FLOWERS12  # noqa: E402
from workers.ml.outliers import centre_distance, knn_distance, score_outliers  # noqa: E402
from workers.ml.shards import read_rows, write_shard  # noqa: E402

BACKBONE = "efficientnet_lite0"
HELD_OUT = ("sunflower", "windflower")
ODD = (*odd_pictures.KINDS, *HELD_OUT)


def embed_cached(paths: list[Path], cache: Path) -> np.ndarray:
    """float32 unit-length rows, one per path; embedded once, then read from the cache."""
    stamps = [f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in paths]
    key = hashlib.sha256("\n".join([BACKBONE, *stamps]).encode()).hexdigest()[:16]
    index = cache / f"embeddings-{key}.json"
    if index.exists():
        shard = json.loads(index.read_text())["shard"]
        x = read_rows(cache, [(shard, n) for n in range(len(paths))])
    else:
        from workers.ml.embed import embed_files  # torch only when embedding

        started = time.perf_counter()
        result = embed_files(paths, BACKBONE)
        if result.errors:
            raise SystemExit(f"unreadable pictures: {result.errors}")
        shard = write_shard(cache, result.vectors)
        index.write_text(json.dumps({"shard": shard}))
        print(f"embedded {len(paths)} pictures in {time.perf_counter() - started:.0f} s")
        x = result.vectors.astype(np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def build(per_kind: int, cache: Path) -> tuple[list[Path], np.ndarray, np.ndarray]:
    """Paths, labels (-1 unlabeled) and kind ('labeled', 'inlier' or an odd kind)."""
    if not (FLOWERS12 / "train").is_dir():
        raise SystemExit(f"flowers12 is missing: no folder {FLOWERS12 / 'train'}")
    paths: list[Path] = []
    labels: list[int] = []
    kinds: list[str] = []
    species = sorted(p.name for p in (FLOWERS12 / "train").iterdir() if p.name not in HELD_OUT)
    for split, kind in (("train", "labeled"), ("test", "inlier")):
        for c, name in enumerate(species):
            for path in sorted((FLOWERS12 / split / name).glob("*.jpg")):
                paths.append(path)
                labels.append(c if kind == "labeled" else -1)
                kinds.append(kind)
    for name in HELD_OUT:
        for path in sorted((FLOWERS12 / "train" / name).glob("*.jpg"))[:per_kind]:
            paths.append(path)
            labels.append(-1)
            kinds.append(name)
    for kind in odd_pictures.KINDS:
        for path in odd_pictures.write(cache / "pictures", kind, per_kind):
            paths.append(path)
            labels.append(-1)
            kinds.append(kind)
    return paths, np.asarray(labels), np.asarray(kinds)


def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a random odd picture scores above a random in-scope one); ties count half."""
    diff = positive[:, None] - negative[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def cleanlab_ood(x: np.ndarray, labels: np.ndarray, fit_on_labeled: bool) -> np.ndarray:
    """cleanlab's feature-based OOD score as 1 - score (higher: odder): fitted on all the
    images and scored leaving each out (what Datalab does), or fitted on the labeled ones."""
    from cleanlab.outlier import OutOfDistribution

    ood = OutOfDistribution()
    if not fit_on_labeled:
        return 1.0 - np.asarray(ood.fit_score(features=x, verbose=False))
    ood.fit(features=x[labels >= 0], verbose=False)
    return 1.0 - np.asarray(ood.score(features=x))


def table(x: np.ndarray, labels: np.ndarray, kinds: np.ndarray) -> list[str]:
    """Markdown rows of AUROC per kind, then what the product flags."""
    started = time.perf_counter()
    product = score_outliers(x, labels)
    seconds = time.perf_counter() - started
    scores = {
        "product": product.scores,
        "cleanlab OOD (all)": cleanlab_ood(x, labels, fit_on_labeled=False),
        "cleanlab OOD (labeled)": cleanlab_ood(x, labels, fit_on_labeled=True),
        "kNN k=5": knn_distance(x, x, k=5, exclude_self=True),
        "kNN k=20": knn_distance(x, x, k=20, exclude_self=True),
        "centre distance": centre_distance(x, labels),
    }
    inlier = (kinds == "inlier") | ((kinds == "labeled") & (labels < 0))
    lines = ["| kind | " + " | ".join(scores) + " |", "|---" * (len(scores) + 1) + "|"]
    for kind in [*ODD, "all odd"]:
        mask = kinds == kind if kind != "all odd" else np.isin(kinds, ODD)
        cells = [f"{auroc(s[mask], s[inlier]):.3f}" for s in scores.values()]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    odd = np.isin(kinds, ODD)
    flagged = product.flagged
    lines.append(
        f"\nProduct scorer: {seconds:.2f} s for {len(x)} images. Flagged: "
        f"{int(flagged[odd].sum())} of {int(odd.sum())} odd pictures ("
        + ", ".join(f"{k} {int(flagged[kinds == k].sum())}" for k in ODD)
        + f"); {int(flagged[inlier].sum())} of {int(inlier.sum())} unlabeled in-scope photos; "
        f"{int(flagged[labels >= 0].sum())} of {int((labels >= 0).sum())} labeled photos."
    )
    return lines


def time_pool(x: np.ndarray, labels: np.ndarray, n: int) -> None:
    """The scorer's time on ``n`` vectors: flowers12's tiled, each copy moved by noise,
    5% labeled (what a worker meets on a large project)."""
    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(x), size=n)
    pool = x[pick] + rng.normal(scale=0.02, size=(n, x.shape[1])).astype(np.float32)
    pool_labels = np.where(rng.random(n) < 0.05, labels[pick], -1)
    started = time.perf_counter()
    score_outliers(pool, pool_labels)
    print(f"Scorer on {n:,} vectors ({x.shape[1]}-d): {time.perf_counter() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-kind", type=int, default=20)
    parser.add_argument(
        "--labeled-share",
        type=float,
        nargs="+",
        default=[1.0, 0.3, 0.1],
        help="shares of the 600 in-scope train photos that keep their label",
    )
    parser.add_argument(
        "--pool",
        type=int,
        default=0,
        help="also time the scorer on this many vectors (the real ones tiled, with noise)",
    )
    parser.add_argument("--cache", type=Path, default=REPO / "data" / "bench" / "outliers")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    paths, labels, kinds = build(args.per_kind, args.cache)
    x = embed_cached(paths, args.cache)
    print(
        f"flowers12 with {', '.join(HELD_OUT)} held out, {args.per_kind} odd pictures per "
        f"kind, {BACKBONE}. AUROC of each kind against the unlabeled in-scope photos.\n"
    )
    for share in args.labeled_share:
        kept = labels.copy()
        if share < 1.0:
            # Fewer labels: a random part of the labeled set loses its label and counts
            # as an unlabeled in-scope photo from then on.
            rng = np.random.default_rng(0)
            had = np.flatnonzero(labels >= 0)
            kept[rng.choice(had, size=round(len(had) * (1 - share)), replace=False)] = -1
        print(f"#### {int((kept >= 0).sum())} labeled ({share:.0%} of the 600)\n")
        print("\n".join(table(x, kept, kinds)) + "\n")
    if args.pool:
        time_pool(x, labels, args.pool)


if __name__ == "__main__":
    main()
