"""Ingest decode rate: `decode_image` against a plain Pillow full decode, same files.

Run: .venv/bin/python bench/decode_rate.py [--count 300] [--repeats 5]

Files: 500x375 photo-like JPEGs generated in code (the size issue 3 names), so the run
needs no dataset. The baseline is the least any ingest must do, `Image.open().load()`;
the ratio is what sha256, draft decoding, orientation, the thumbnail and the phash cost
on top of it. Single process; the ingest workers scale it by process count.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.imports.decode import decode_image
from tests.images.corpus import jpeg


def rate(files: list[bytes], work: Callable[[bytes], object], repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for data in files:
            work(data)
        runs.append(len(files) / (time.perf_counter() - start))
    return statistics.median(runs)


def pillow_full_decode(data: bytes) -> object:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    files = [jpeg(seed=i) for i in range(args.count)]
    decode_image(files[0])  # import-time costs (scipy for the phash) are not per image
    baseline = rate(files, pillow_full_decode, args.repeats)
    ours = rate(files, decode_image, args.repeats)
    print(f"files: {len(files)} JPEG 500x375, median of {args.repeats} runs, one process")
    print(f"baseline Pillow open+load : {baseline:7.1f} images/s")
    print(f"decode_image (everything) : {ours:7.1f} images/s")
    print(f"ratio decode_image/baseline: {ours / baseline:.2f}")


if __name__ == "__main__":
    main()
