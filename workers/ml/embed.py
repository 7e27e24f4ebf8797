"""Image files -> pooled backbone features, as fast as the machine allows.

Decoding runs in threads, a few batches ahead of the model (workers.ml.batches); JPEGs
are decoded at reduced scale (workers.ml.images); the model runs under onnxruntime on
the CPU and torch with mixed precision on CUDA (workers.ml.runtime). Loaded models are
kept per process, so a worker pays for loading (and the ONNX export) once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import torch

from workers.ml.backbones import DEFAULT_BACKBONE, get_spec, load_backbone
from workers.ml.batches import default_workers, iterate_batches
from workers.ml.device import resolve_device
from workers.ml.images import load_for_model
from workers.ml.runtime import Engine, TorchEngine, cpu_engine

EngineChoice = Literal["auto", "torch", "onnx"]


class Stopped(Exception):
    """The caller asked to stop (``should_stop`` returned True); nothing is returned."""


@dataclass
class EmbedResult:
    vectors: npt.NDArray[np.float16]  # (len(ok), dim), row i belongs to paths[ok[i]]
    ok: list[int] = field(default_factory=list)  # indices into the input paths
    errors: dict[int, str] = field(default_factory=dict)  # index -> reason, for the user


@functools.lru_cache(maxsize=4)
def get_engine(
    backbone: str,
    device: torch.device,
    engine: EngineChoice = "auto",
    cache_dir: Path | None = None,
    allow_download: bool = False,
) -> Engine:
    """One loaded model per (backbone, device, engine) and process."""
    if engine == "onnx" and device.type != "cpu":
        raise ValueError("the onnx engine runs on the CPU only")
    model = load_backbone(backbone, device, allow_download=allow_download)
    if device.type == "cpu" and engine != "torch":
        chosen = cpu_engine(model, get_spec(backbone), cache_dir)
        if engine == "onnx" and chosen.name != "onnxruntime":
            raise RuntimeError(f"onnxruntime could not run {backbone}; see the log")
        return chosen
    return TorchEngine(model, device)


def embed_files(
    paths: Sequence[Path],
    backbone: str = DEFAULT_BACKBONE,
    *,
    device: torch.device | None = None,
    batch_size: int = 64,
    decode_workers: int | None = None,
    allow_download: bool = False,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    cache_dir: Path | None = None,
    engine: EngineChoice = "auto",
) -> EmbedResult:
    """Embed every readable file; unreadable ones are listed in ``errors``, not raised.

    ``progress(done, total)`` is called after each batch. ``should_stop()`` is polled
    before each batch; when it returns True, ``Stopped`` is raised.
    """
    spec = get_spec(backbone)
    device = device or resolve_device("auto")
    runner = get_engine(backbone, device, engine, cache_dir, allow_download)
    total = len(paths)
    chunks: list[npt.NDArray[np.float16]] = []
    result = EmbedResult(np.zeros((0, spec.dim), dtype=np.float16))
    done = 0
    batches = iterate_batches(
        paths,
        lambda path: load_for_model(path, spec),
        batch_size=batch_size,
        workers=decode_workers or default_workers(device.type),
    )
    try:
        for batch in batches:
            if should_stop is not None and should_stop():
                raise Stopped(f"stopped after {done} of {total} images")
            if batch.indices:
                chunks.append(runner(batch.images).astype(np.float16))
                result.ok.extend(batch.indices)
            result.errors.update(batch.errors)
            done += len(batch.indices) + len(batch.errors)
            if progress is not None:
                progress(done, total)
    finally:
        batches.close()  # cancels decoding that is still queued
    if chunks:
        result.vectors = np.concatenate(chunks)
    return result
