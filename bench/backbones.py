"""Forward speed of every registry backbone on this machine's CPU: the numbers the
backbone select shows (app/projects/backbone_facts.json).

What it measures, honestly: random weights (pretrained ones cannot be downloaded here;
speed does not depend on the values), eager torch in float32 with channels_last under
inference_mode, batches of 16 random images at each backbone's own input size, after
one warm-up batch; rounds go over all backbones in turn and each keeps its best. No
decoding or resizing is included. The worker embeds on the CPU through onnxruntime
where the export works, which is faster for some networks (EfficientNet-Lite0:
bench/embed_rate.py): read these as a fair comparison between backbones, not as the
end-to-end rate.

    .venv/bin/python bench/backbones.py [--batches 3] [--rounds 2] [--out <json>]
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
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=None, help="backbone names to measure")
    args = parser.parse_args()

    load_before = os.getloadavg()
    names = [n for n in BACKBONES if args.only is None or n in args.only]
    # Rounds go over every backbone in turn and each keeps its best round: a burst of
    # other work on the machine then slows one round of one row, not the whole row.
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for name in names:
            best[name] = max(best.get(name, 0.0), measure(name, args.batches))
    facts: dict[str, dict[str, Any]] = {}
    print("| Backbone | Features | Input px | Download MB | Images/s (CPU, batch 16) |")
    print("|---|---:|---:|---:|---:|")
    for name, spec in BACKBONES.items():
        rate = best.get(name)
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
        "rounds": args.rounds,
        # Other work on the machine slows every row alike; the load says how much there was.
        "load_average_1min": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "how": "random weights, eager torch float32, channels_last, inference_mode; "
        "forward only (no decoding), after one warm-up batch; the best of the rounds",
    }
    args.out.write_text(json.dumps({"measured": measured, "backbones": facts}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
