"""The CPU runtime: the ONNX export is cached by a fingerprint of the weights, and a
failed export falls back to torch instead of failing the embedding job."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from workers.ml import runtime
from workers.ml.backbones import BACKBONES, DEFAULT_BACKBONE
from workers.ml.embed import get_engine
from workers.ml.runtime import cpu_engine, fingerprint, onnx_file

SPEC = BACKBONES[DEFAULT_BACKBONE]


def tiny() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, stride=8), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def test_the_export_is_written_once_and_reused(tmp_path: Path) -> None:
    model = tiny().eval()
    path = onnx_file(model, SPEC, tmp_path)
    assert path.parent == tmp_path
    assert fingerprint(model) in path.name
    written = path.stat().st_mtime_ns
    assert onnx_file(model, SPEC, tmp_path) == path
    assert path.stat().st_mtime_ns == written
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left


def test_other_weights_get_another_file(tmp_path: Path) -> None:
    first, second = tiny().eval(), tiny().eval()
    with torch.no_grad():
        second[0].bias.add_(1.0)
    assert onnx_file(first, SPEC, tmp_path) != onnx_file(second, SPEC, tmp_path)


def test_onnxruntime_gives_the_torch_features(tmp_path: Path) -> None:
    model = tiny().eval()
    engine = cpu_engine(model, SPEC, tmp_path)
    images = np.random.default_rng(0).normal(size=(5, 3, 224, 224)).astype(np.float32)
    with torch.inference_mode():
        expected = model(torch.from_numpy(images)).numpy()
    assert engine.name == "onnxruntime"
    np.testing.assert_allclose(engine(images), expected, atol=1e-5)


def test_a_failed_export_falls_back_to_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(runtime, "write_onnx", broken)
    model = tiny().eval()
    with caplog.at_level(logging.WARNING, logger="workers.ml.runtime"):
        engine = cpu_engine(model, SPEC, tmp_path)
    assert engine.name == "torch"
    assert "exporter exploded" in caplog.text
    images = np.zeros((2, 3, 224, 224), dtype=np.float32)
    assert engine(images).shape == (2, 4)


def test_engines_are_loaded_once_per_process(onnx_cache: Path) -> None:
    cpu = torch.device("cpu")
    first = get_engine(DEFAULT_BACKBONE, cpu, "auto", onnx_cache, False)
    assert get_engine(DEFAULT_BACKBONE, cpu, "auto", onnx_cache, False) is first
    assert first.name == "onnxruntime"


def test_the_onnx_engine_is_for_the_cpu_only() -> None:
    with pytest.raises(ValueError, match="CPU only"):
        get_engine(DEFAULT_BACKBONE, torch.device("meta"), "onnx", None, False)
