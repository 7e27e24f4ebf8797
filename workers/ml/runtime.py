"""Run a feature extractor on batches: torch on CUDA, onnxruntime on the CPU.

On this project's 2-core CPU, onnxruntime runs EfficientNet-Lite0 several times faster
than eager torch (bench/embed_rate.py). The ONNX file is exported from the very same
torch module once, kept in a cache folder under a name that fingerprints the weights,
and checked against torch on a probe batch before it is trusted.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from workers.ml.backbones import BackboneSpec
from workers.ml.device import autocast
from workers.ml.export import INPUT_NAME, ONNX_OPSET, write_onnx

log = logging.getLogger(__name__)
FEATURES = "features"


class Engine(Protocol):
    name: str

    def __call__(self, images: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]: ...


class TorchEngine:
    """Eager torch with channels_last (faster convolutions) under inference_mode."""

    name = "torch"

    def __init__(self, model: nn.Module, device: torch.device) -> None:
        self.device = device
        self.model = model.to(device).to(memory_format=torch.channels_last).eval()

    def __call__(self, images: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        batch = torch.from_numpy(images)
        if self.device.type == "cuda":
            batch = batch.pin_memory().to(self.device, non_blocking=True)
        batch = batch.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), autocast(self.device):
            out = self.model(batch)
        return np.asarray(out.float().cpu().numpy(), dtype=np.float32)


class OnnxEngine:
    name = "onnxruntime"

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or torch.get_num_threads()
        # Idle worker threads spin by default; that steals the cores the decoding
        # threads need between batches.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, images: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        out = self.session.run(None, {INPUT_NAME: np.ascontiguousarray(images)})[0]
        return np.asarray(out, dtype=np.float32)


def default_cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / "curator-onnx"


def fingerprint(model: nn.Module) -> str:
    """Changes with any weight, and with the torch version that does the export."""
    digest = hashlib.sha256(f"{torch.__version__}/{ONNX_OPSET}".encode())
    for key, tensor in model.state_dict().items():
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def onnx_file(model: nn.Module, spec: BackboneSpec, cache_dir: Path | None) -> Path:
    """The model's ONNX export in ``cache_dir``, written on first use (atomically, so
    processes that race write whole files and the last rename wins)."""
    folder = cache_dir or default_cache_dir()
    path = folder / f"{spec.name}-{fingerprint(model)}.onnx"
    if not path.is_file():
        log.info("exporting %s to ONNX at %s", spec.name, path)
        write_onnx(model, path, spec, output_name=FEATURES)
    return path


def cpu_engine(
    model: nn.Module, spec: BackboneSpec, cache_dir: Path | None, *, threads: int | None = None
) -> Engine:
    """onnxruntime if it can be set up and agrees with torch; otherwise torch itself."""
    try:
        return OnnxEngine(onnx_file(model, spec, cache_dir), threads)
    except Exception as exc:  # a broken export must cost speed, never correctness
        log.warning("onnxruntime unavailable for %s (%s); using torch", spec.name, exc)
        return TorchEngine(model, torch.device("cpu"))
