"""A trained model's files, each checked before it is offered: TorchScript, torch.export
(.pt2), float ONNX and, where it clears the accuracy bar, int8 ONNX; and ``model.json``,
which says how to prepare an image, and which files were kept and why any was not.

A format that fails costs that format only: its file is not written (each is moved into
place after its check passes) and ``model.json`` gives the reason, which is what the
download answers with.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from workers.ml import export, quantize
from workers.ml.backbones import BackboneSpec
from workers.ml.images import ImageUnreadable, load_for_model

FILES = {
    "torchscript": "model.pt",
    "pt2": "model.pt2",
    "onnx": "model.onnx",
    "onnx-int8": "model_int8.onnx",
}
CHECK_IMAGES = 8  # each exported file must agree with the torch model on these
CALIBRATION_IMAGES = 64  # int8 activation ranges; onnxruntime's guide: a hundred or so
JUDGE_IMAGES = 160  # float vs int8 accuracy: bounded, so export stays seconds
log = logging.getLogger(__name__)

Exporter = Callable[[nn.Module, Path, BackboneSpec, export.Images | None], None]
_FLOAT: tuple[tuple[str, Exporter], ...] = (
    ("torchscript", export.export_torchscript),
    ("pt2", export.export_pt2),
    ("onnx", export.export_onnx),
)


@dataclass(frozen=True)
class Labeled:
    """One of the run's labeled images: its file and its true output column."""

    path: Path
    column: int


@dataclass(frozen=True)
class Sample:
    images: export.Images  # readable images, preprocessed, in a seeded random order
    columns: list[int]

    def __len__(self) -> int:
        return len(self.columns)


def load_sample(labeled: Sequence[Labeled], limit: int, spec: BackboneSpec, seed: int) -> Sample:
    """Up to ``limit`` readable images, drawn in a seeded order; unreadable ones skipped."""
    order = np.random.default_rng(seed).permutation(len(labeled))
    images: list[export.Images] = []
    columns: list[int] = []
    for n in order:
        if len(images) >= limit:
            break
        try:
            images.append(load_for_model(labeled[int(n)].path, spec))
        except ImageUnreadable:
            continue
        columns.append(labeled[int(n)].column)
    if not images:
        empty = np.zeros((0, 3, spec.input_size, spec.input_size), dtype=np.float32)
        return Sample(empty, [])
    return Sample(np.stack(images), columns)


def write_model_files(
    module: nn.Module,
    folder: Path,
    spec: BackboneSpec,
    meta: dict[str, object],
    labeled: Sequence[Labeled],
    *,
    seed: int = 0,
    max_drop: float = quantize.MAX_DROP,
    calibration_images: int = CALIBRATION_IMAGES,
    judge_images: int = JUDGE_IMAGES,
) -> dict[str, object]:
    """Every format into ``folder``, then ``model.json`` (``meta`` plus what was offered).
    ``labeled`` are the run's training images; returns what model.json holds."""
    module.eval()
    sample = load_sample(labeled, calibration_images + judge_images, spec, seed)
    check = sample.images[:CHECK_IMAGES]
    formats: dict[str, dict[str, object]] = {}
    for name, write in _FLOAT:
        formats[name] = _attempt(name, folder, write, module, spec, check)
    formats["onnx-int8"] = _int8(folder, formats["onnx"], sample, max_drop, calibration_images)
    checked = (
        f"{len(check)} of the run's labeled images"
        if len(check)
        else "3 random tensors (none of the run's images could be read)"
    )
    meta = {**meta, "formats": formats, "checked_on": checked}
    (folder / "model.json").write_text(json.dumps(meta, indent=2))
    return meta


def _attempt(
    name: str,
    folder: Path,
    write: Exporter,
    module: nn.Module,
    spec: BackboneSpec,
    check: export.Images,
) -> dict[str, object]:
    path = folder / FILES[name]
    try:
        write(module, path, spec, check)
    except Exception as exc:  # any exporter failure costs this format, not the others
        log.warning("the %s export failed: %s", name, exc, exc_info=True)
        return {"offered": False, "reason": f"the {name} export failed its check: {exc}"}
    return {"offered": True, "file": path.name, "bytes": path.stat().st_size}


def _int8(
    folder: Path,
    float_onnx: dict[str, object],
    sample: Sample,
    max_drop: float,
    calibration_images: int,
) -> dict[str, object]:
    if not float_onnx["offered"]:
        return {"offered": False, "reason": "there is no float ONNX model to quantize"}
    if len(sample) == 0:
        return {"offered": False, "reason": "none of the run's labeled images could be read"}
    calibration = sample.images[:calibration_images]
    # The check on images the calibration did not see, when there are enough of them.
    rest = slice(calibration_images, None) if len(sample) >= 2 * calibration_images else slice(None)
    path = folder / FILES["onnx-int8"]
    try:
        quantize.quantize_int8(folder / FILES["onnx"], path, calibration)
        verdict = quantize.judge(
            folder / FILES["onnx"],
            path,
            sample.images[rest],
            sample.columns[rest],
            max_drop=max_drop,
        )
    except Exception as exc:  # the quantizer's failure costs int8, not the float files
        log.warning("int8 quantization failed: %s", exc, exc_info=True)
        path.unlink(missing_ok=True)
        return {"offered": False, "reason": f"static int8 quantization failed: {exc}"}
    found = {
        "calibration_images": len(calibration),
        "method": "static, QDQ, int8 weights per channel",
        **verdict.stored(),
    }
    if not verdict.passed:
        path.unlink()
        return {"offered": False, "reason": verdict.reason(), **found}
    return {"offered": True, "file": path.name, "bytes": path.stat().st_size, **found}
