"""Forward speed of every registry backbone on this machine's CPU: the numbers the
backbone select shows (app/projects/backbone_facts.json).

What it measures, honestly: random weights (pretrained ones cannot be downloaded here;
speed does not depend on the values), eager torch in float32 with channels_last under
inference_mode, batches of 16 random images at each backbone's own input size, after
one warm-up batch. No decoding or resizing is included. The worker embeds on the CPU
through onnxruntime where the export works, which is faster for some networks
(EfficientNet-Lite0: bench/embed_rate.py): read these as a fair comparison between
backbones, not as the end-to-end rate.

    .venv/bin/python bench/backbones.py [--batches 3] [--out app/projects/backbone_facts.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from workers.ml.backbones import BACKBONES, load_backbone  # noqa: E402

BATCH = 16


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def measure(name: str, batches: int) -> float:
    spec = BACKBONES[name]
    model = load_backbone(name, torch.device("cpu"), random_weights=True)
    model = model.to(memory_format=torch.channels_last)
    images = torch.randn(BATCH, 3, spec.input_size, spec.input_size).contiguous(
        memory_format=torch.channels_last
    )
    with torch.inference_mode():
        model(images)  # warm-up: first-call allocations and kernel choices
        started = time.perf_counter()
        for _ in range(batches):
            model(images)
        elapsed = time.perf_counter() - started
    return BATCH * batches / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "app/projects/backbone_facts.json")
    parser.add_argument("--only", nargs="*", default=None, help="backbone names to measure")
    args = parser.parse_args()

    load_before = os.getloadavg()
    facts: dict[str, dict[str, Any]] = {}
    print("| Backbone | Features | Input px | Download MB | Images/s (CPU, batch 16) |")
    print("|---|---:|---:|---:|---:|")
    for name, spec in BACKBONES.items():
        rate = measure(name, args.batches) if args.only is None or name in args.only else None
        facts[name] = {
            "label": spec.label,
            "dim": spec.dim,
            "input_size": spec.input_size,
            "download_mb": spec.download_mb,
            "images_per_s": round(rate, 1) if rate is not None else None,
        }
        mb = "offline" if spec.download_mb is None else f"{spec.download_mb:.0f}"
        shown = f"{rate:.1f}" if rate is not None else "-"
        print(f"| {name} | {spec.dim} | {spec.input_size} | {mb} | {shown} |", flush=True)
    measured = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": _cpu_name(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "batch": BATCH,
        "batches": args.batches,
        # Other work on the machine slows every row alike; the load says how much there was.
        "load_average_1min": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "how": "random weights, eager torch float32, channels_last, inference_mode; "
        "forward only (no decoding), after one warm-up batch",
    }
    args.out.write_text(json.dumps({"measured": measured, "backbones": facts}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
