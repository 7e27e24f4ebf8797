"""Device resolution: what a worker computes on, and a clear error when CUDA is missing."""

from __future__ import annotations

import pytest
import torch

from workers.ml.device import autocast, autocast_dtype, resolve_device


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_auto_is_the_cpu_without_cuda(no_cuda: None) -> None:
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device() == torch.device("cpu")


def test_auto_is_cuda_when_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_auto_is_a_device_this_machine_computes_on() -> None:
    # No mock: whatever "auto" picks here, a worker must be able to put a tensor there.
    device = resolve_device("auto")
    x = torch.ones(2, 2, device=device)
    assert (x @ x).sum().item() == 8.0
    assert x.device.type == device.type


@pytest.mark.parametrize("requested", ["cpu", "CPU", " cpu "])
def test_cpu_is_always_available(requested: str) -> None:
    assert resolve_device(requested) == torch.device("cpu")


@pytest.mark.parametrize("requested", ["cuda", "cuda:0", "cuda:1"])
def test_cuda_without_cuda_is_a_clear_error(no_cuda: None, requested: str) -> None:
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device(requested)


def test_a_gpu_index_beyond_the_machine_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ValueError, match="1 CUDA device"):
        resolve_device("cuda:3")


@pytest.mark.parametrize("requested", ["gpu", "tpu", "cuda:x", ""])
def test_unknown_devices_are_refused(requested: str) -> None:
    with pytest.raises(ValueError, match="device"):
        resolve_device(requested)


def test_autocast_on_the_cpu_keeps_float32() -> None:
    cpu = torch.device("cpu")
    assert autocast_dtype(cpu) is None
    a = torch.randn(4, 4)
    with autocast(cpu):
        assert (a @ a).dtype == torch.float32


def test_autocast_on_cuda_picks_a_half_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert autocast_dtype(torch.device("cuda")) == torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert autocast_dtype(torch.device("cuda")) == torch.bfloat16
