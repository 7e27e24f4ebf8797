"""Embedding throughput on the CPU, end to end: decode, preprocess, forward.

Compares ``workers.ml.embed.embed_files`` with the naive pipeline measured in the same
run: PIL open, torchvision Resize(256) / CenterCrop(224) / ToTensor / Normalize, the same
EfficientNet-Lite0 torch module, batches of 32, one file after the other.

Two image sets: flowers12's own photos (224x224, small for a photo) and the same photos
upscaled once to 1024x768 JPEGs in a temporary folder at the start, the size of a
typical camera or dataset image. Not a timed test: it prints a table and the ratios.

    .venv/bin/python bench/embed_rate.py [--images 128] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from workers.ml.backbones import BACKBONES, DEFAULT_BACKBONE, load_backbone  # noqa: E402
from workers.ml.embed import embed_files, get_engine  # noqa: E402
from workers.ml.images import load_for_model  # noqa: E402

FLOWERS = REPO.parent / "shared" / "datasets" / "flowers12"
BIG = (1024, 768)
BASELINE = "baseline: PIL + torchvision transforms + torch, batch 32"
DEFAULT = "embed_files defaults: onnxruntime, batch 64, 1 decode thread"


def naive(paths: Sequence[Path], model: torch.nn.Module) -> np.ndarray:
    spec = BACKBONES[DEFAULT_BACKBONE]
    transform = transforms.Compose(
        [
            transforms.Resize(256),
            transforms.CenterCrop(224),
            transforms.ToTensor(),
            transforms.Normalize(spec.mean, spec.std),
        ]
    )
    out = []
    with torch.no_grad():
        for start in range(0, len(paths), 32):
            batch = [transform(Image.open(p).convert("RGB")) for p in paths[start : start + 32]]
            out.append(model(torch.stack(batch)).numpy())
    return np.concatenate(out)


def decode_only(paths: Sequence[Path]) -> tuple[float, float]:
    """Images/s of decode + preprocess alone, one thread: the naive transform vs
    ``load_for_model`` (draft decoding, resampling only the crop)."""
    spec = BACKBONES[DEFAULT_BACKBONE]
    transform = transforms.Compose(
        [
            transforms.Resize(256),
            transforms.CenterCrop(224),
            transforms.ToTensor(),
            transforms.Normalize(spec.mean, spec.std),
        ]
    )
    started = time.perf_counter()
    for path in paths:
        transform(Image.open(path).convert("RGB"))
    naive_rate = len(paths) / (time.perf_counter() - started)
    started = time.perf_counter()
    for path in paths:
        load_for_model(path, spec)
    return naive_rate, len(paths) / (time.perf_counter() - started)


def interleaved(
    runs: dict[str, Callable[[], object]], rounds: int
) -> tuple[dict[str, list[float]], dict[str, object]]:
    """Seconds per run of each pipeline, alternating pipelines within every round, so a
    busy spell of the (shared, noisy) machine slows all of them alike."""
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    results: dict[str, object] = {}
    for _ in range(rounds):
        for name, run in runs.items():
            started = time.perf_counter()
            results[name] = run()
            seconds[name].append(time.perf_counter() - started)
    return seconds, results


def upscale(sources: Sequence[Path], folder: Path) -> list[Path]:
    out = []
    for n, source in enumerate(sources):
        target = folder / f"{n:04d}.jpg"
        with Image.open(source) as image:
            image.convert("RGB").resize(BIG, Image.Resampling.BICUBIC).save(target, quality=90)
        out.append(target)
    return out


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float(np.mean(np.sum(a * b, axis=1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=128, help="images per set")
    parser.add_argument("--rounds", type=int, default=3, help="median of this many rounds")
    args = parser.parse_args()
    if not FLOWERS.is_dir():
        sys.exit(f"flowers12 is missing at {FLOWERS}")
    sources = sorted((FLOWERS / "train").glob("*/*.jpg"))
    # Every species, not the first one's photos only.
    sources = sources[:: max(1, len(sources) // args.images)][: args.images]
    cpu = torch.device("cpu")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, backbone {DEFAULT_BACKBONE}"
    )
    print(
        f"median of {args.rounds} interleaved rounds per row; models loaded and warmed "
        "before timing"
    )

    plain = load_backbone(DEFAULT_BACKBONE, cpu)
    started = time.perf_counter()
    get_engine(DEFAULT_BACKBONE, cpu, "auto", None, False)
    get_engine(DEFAULT_BACKBONE, cpu, "torch", None, False)
    ready = time.perf_counter() - started
    print(f"engines ready in {ready:.1f} s (the ONNX export is cached after the first run)")
    # Warm up every path at full batch size (oneDNN builds its kernels per shape).
    embed_files(sources[:64], device=cpu)
    embed_files(sources[:64], device=cpu, engine="torch")
    naive(sources[:32], plain)

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        big = upscale(sources, Path(tmp))
        took = time.perf_counter() - started
        print(
            f"upscaled {len(big)} photos to {BIG[0]}x{BIG[1]} JPEG (q90) in {took:.1f} s, untimed"
        )
        for label, paths in (("flowers12 224x224", sources), (f"upscaled {BIG[0]}x{BIG[1]}", big)):
            runs: dict[str, Callable[[], object]] = {
                BASELINE: lambda p=paths: naive(p, plain),
                "embed_files, torch engine (channels_last), batch 64": lambda p=paths: embed_files(
                    p, device=cpu, engine="torch"
                ),
                "embed_files, onnxruntime, batch 64, 2 decode threads": lambda p=paths: embed_files(
                    p, device=cpu, decode_workers=2
                ),
                DEFAULT: lambda p=paths: embed_files(p, device=cpu),
            }
            seconds, results = interleaved(runs, args.rounds)
            load = Path("/proc/loadavg").read_text().split()[0]
            n = len(paths)
            base = n / statistics.median(seconds[BASELINE])
            print(f"\n{label}: {n} images, load average after: {load}")
            print(f"{'pipeline':66} {'images/s':>9} {'x baseline':>11}  per round")
            for name, times in seconds.items():
                speed = n / statistics.median(times)
                each = " ".join(f"{n / t:5.1f}" for t in times)
                print(f"{name:66} {speed:9.1f} {speed / base:10.2f}x  {each}")
            reference = np.asarray(results[BASELINE], np.float32)
            ours = results[DEFAULT].vectors.astype(np.float32)  # type: ignore[attr-defined]
            agreement = cosine(reference, ours)
            print(f"mean cosine similarity, default pipeline vs baseline features: {agreement:.4f}")
            plain_decode, our_decode = decode_only(paths)
            print(
                f"decode + preprocess alone, 1 thread: naive {plain_decode:.0f} images/s, "
                f"load_for_model {our_decode:.0f} images/s ({our_decode / plain_decode:.1f}x)"
            )


if __name__ == "__main__":
    main()
