"""Saliency map compute time on this CPU: one 224 px photo, what a worker's task does.

A run's exported TorchScript file is written first (a linear probe on the offline
EfficientNet-Lite0, as ``workers/training._export`` writes it, and a fine-tuned
classifier of the same backbone), then, per mode:

- cold: rebuild the explainer from the file (``load_explainer``: backbone architecture,
  weights from the TorchScript file), the first time a worker process meets the run;
- per photo: ``explain_file`` on flowers12 test photos (224 x 224), which is decode,
  centre crop, Grad-CAM for the top class and the PNG, the work of one task after the
  model is cached (a worker keeps the last two).

The photos are the first ``--per-class`` of each species; the machine's load average is
printed beside the figures, since other work on the 2 cores moves them. Not a test.

    .venv/bin/python bench/saliency.py [--per-class 4]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.paths import ROOT
from workers.ml.backbones import BACKBONES, DEFAULT_BACKBONE, load_backbone
from workers.ml.classifier import Classifier
from workers.ml.export import export_torchscript, linear_classifier, with_softmax
from workers.ml.linear import LinearModel
from workers.ml.saliency import explain_file, load_explainer

FLOWERS = Path(os.environ.get("CURATOR_DATASETS") or ROOT.parent / "shared" / "datasets")
CLASSES = 12


def _models(folder: Path) -> dict[str, Path]:
    spec = BACKBONES[DEFAULT_BACKBONE]
    rng = np.random.default_rng(0)
    probe = LinearModel(
        np.arange(CLASSES),
        rng.normal(0, 1, (CLASSES, spec.dim)).astype(np.float32),
        np.zeros(CLASSES, dtype=np.float32),
    )
    cpu = torch.device("cpu")
    paths = {"linear": folder / "linear.pt", "finetune": folder / "finetune.pt"}
    export_torchscript(linear_classifier(spec.name, probe, device=cpu), paths["linear"], spec)
    tuned = Classifier(load_backbone(spec.name, cpu), spec.dim, CLASSES).eval()
    export_torchscript(with_softmax(tuned), paths["finetune"], spec)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-class", type=int, default=4)
    args = parser.parse_args()
    test = FLOWERS / "flowers12" / "test"
    photos = [p for s in sorted(test.iterdir()) for p in sorted(s.glob("*.jpg"))[: args.per_class]]
    print(f"{len(photos)} flowers12 test photos, torch {torch.__version__}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        paths = _models(Path(tmp))
        for mode, path in paths.items():
            start = time.perf_counter()
            explainer = load_explainer(path, DEFAULT_BACKBONE, mode, CLASSES)
            cold = time.perf_counter() - start
            explain_file(explainer, photos[0], None)  # first call: imports grad-cam
            times = []
            for photo in photos:
                start = time.perf_counter()
                explain_file(explainer, photo, None)
                times.append(time.perf_counter() - start)
            ms = np.array(times) * 1000
            load = os.getloadavg()[0]
            print(f"{mode:8s} rebuild from model.pt {cold:5.2f} s | per photo: median "
                  f"{np.median(ms):4.0f} ms, p95 {np.percentile(ms, 95):4.0f} ms, "
                  f"max {ms.max():4.0f} ms (n={len(ms)}) | load {load:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
