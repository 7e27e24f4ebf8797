"""Which device a worker computes on, and mixed precision where it pays."""

from __future__ import annotations

import contextlib

import torch


def resolve_device(requested: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else the CPU; ``cpu`` and ``cuda[:n]`` are explicit.

    Asking for CUDA on a machine without it is an error rather than a silent fallback:
    a user who configured a GPU wants to hear that the worker cannot see it.
    """
    choice = requested.strip().lower()
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(choice)
    except RuntimeError:
        raise ValueError(
            f"unknown device {requested!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'"
        ) from None
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise ValueError(f"unsupported device {requested!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'")
    if not torch.cuda.is_available():
        raise ValueError(
            f"device {requested!r} was requested but CUDA is not available on this machine "
            "(no NVIDIA GPU or driver visible to the worker); use 'auto' or 'cpu'"
        )
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise ValueError(
            f"device {requested!r} was requested but this machine has {count} CUDA device(s)"
        )
    return device


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bfloat16 where the GPU supports it (no loss scaling needed), else float16; None on CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device) -> contextlib.AbstractContextManager[object]:
    """Mixed precision on CUDA; on the CPU a no-op, since CPU autocast rarely speeds up convs."""
    dtype = autocast_dtype(device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=dtype)
