"""int8 models: static quantization of an exported ONNX classifier, and the accuracy bar
it must clear before a user is offered it.

Static (QDQ, int8 weights per output channel, activation ranges calibrated on the run's
own training images) rather than dynamic: dynamic quantization of a convolutional
network lost more accuracy and ran about ten times slower than float on this machine's
CPU (BENCHMARKS.md, "int8 models"). Calibration and the check read images already
preprocessed exactly as the model's ``model.json`` says, so what is measured here is
what a user who follows that file gets.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

Images = npt.NDArray[np.float32]  # (N, 3, S, S), preprocessed as the model expects
MAX_DROP = 0.01  # int8 may lose at most one point of accuracy against float
log = logging.getLogger(__name__)


class _Batches(CalibrationDataReader):  # type: ignore[misc]
    """One image at a time: MinMax ranges (over all images) do not depend on how the
    images are batched, and a batch of 1 keeps each calibration call small."""

    def __init__(self, input_name: str, images: Images) -> None:
        self._input = input_name
        self._images = images
        self._next = 0

    def get_next(self) -> dict[str, Images] | None:
        if self._next >= len(self._images):
            return None
        image = self._images[self._next : self._next + 1]
        self._next += 1
        return {self._input: image}

    def rewind(self) -> None:
        self._next = 0


def session(path: Path, threads: int = 1) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # the quantizer's files draw "unused initializer" noise
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def quantize_int8(float_path: Path, out_path: Path, calibration: Images) -> None:
    """``float_path`` quantized to ``out_path`` (written whole or not at all), its
    activation ranges measured on ``calibration``."""
    if len(calibration) == 0:
        raise ValueError("static quantization needs at least one calibration image")
    input_name = session(float_path).get_inputs()[0].name
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".quantize.") as work:
        prepared = Path(work) / "prepared.onnx"
        # Shape inference and constant folding first, as onnxruntime recommends: the
        # quantizer needs every tensor's shape to pick per-channel axes.
        quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
        # The softmax stays float: quantized, probabilities came in steps of 1/255 and
        # summed to 0.992-0.996; it is the cheapest node of the model.
        softmax = [n.name for n in onnx.load(str(prepared)).graph.node if n.op_type == "Softmax"]
        staged = Path(work) / "int8.onnx"
        quantize_static(
            str(prepared),
            str(staged),
            _Batches(input_name, calibration),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=softmax,
        )
        os.replace(staged, out_path)


def predict(path: Path, images: Images, *, batch: int = 16, threads: int = 1) -> Images:
    """Class probabilities of ``images`` from the ONNX classifier at ``path``."""
    runner = session(path, threads)
    name = runner.get_inputs()[0].name
    parts = [
        np.asarray(runner.run(None, {name: images[start : start + batch]})[0], dtype=np.float32)
        for start in range(0, len(images), batch)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)


@dataclass(frozen=True)
class Verdict:
    float_accuracy: float
    int8_accuracy: float
    agreement: float  # share of images whose top class is the same in both
    images: int
    max_drop: float

    @property
    def passed(self) -> bool:
        # A tiny epsilon: 0.95 - 0.94 is 0.010000000000000009 in floating point.
        return self.float_accuracy - self.int8_accuracy <= self.max_drop + 1e-9

    def reason(self) -> str:
        return (
            f"int8 accuracy {self.int8_accuracy:.4f} vs float {self.float_accuracy:.4f} on "
            f"{self.images} of the run's labeled images: a drop of "
            f"{100 * (self.float_accuracy - self.int8_accuracy):.1f} points, more than the "
            f"{100 * self.max_drop:g} allowed"
        )

    def stored(self) -> dict[str, object]:
        return {
            "float_accuracy": round(self.float_accuracy, 4),
            "int8_accuracy": round(self.int8_accuracy, 4),
            "agreement": round(self.agreement, 4),
            "images": self.images,
            "max_drop": self.max_drop,
        }


def judge(
    float_path: Path,
    int8_path: Path,
    images: Images,
    columns: Sequence[int],
    *,
    max_drop: float = MAX_DROP,
) -> Verdict:
    """Both models on the same labeled images; ``columns`` is each image's true output
    column."""
    if len(images) == 0 or len(images) != len(columns):
        raise ValueError("the accuracy check needs labeled images, one column per image")
    truth = np.asarray(columns)
    top_float = predict(float_path, images).argmax(axis=1)
    top_int8 = predict(int8_path, images).argmax(axis=1)
    return Verdict(
        float_accuracy=float((top_float == truth).mean()),
        int8_accuracy=float((top_int8 == truth).mean()),
        agreement=float((top_float == top_int8).mean()),
        images=len(truth),
        max_drop=max_drop,
    )
