"""The training images' random transforms, said in words for the run's page.

The words are read off the very transform objects a run trains with, so the page cannot
drift from the code: a changed crop scale or a new transform changes the sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torchvision import transforms


def _pct(value: float) -> str:
    return f"{round(value * 100):d}%"


def _jitter(name: str, bounds: Any, *, hue: bool = False) -> str | None:
    """ColorJitter stores each factor as (low, high), or None when it is off."""
    if bounds is None:
        return None
    low, high = float(bounds[0]), float(bounds[1])
    if hue:  # a fraction of the colour wheel, around 0
        return f"{name} ±{round(high * 360):d}°"
    return f"{name} ±{_pct((high - low) / 2)}"


def _one(step: Any) -> str:
    if isinstance(step, transforms.RandomResizedCrop):
        low, high = step.scale
        ratio_low, ratio_high = step.ratio
        size = step.size[0] if isinstance(step.size, Sequence) else step.size
        return (
            f"a random crop of {_pct(low)} to {_pct(high)} of the picture's area "
            f"(aspect {ratio_low:.2f} to {ratio_high:.2f}), resized to {size} px"
        )
    if isinstance(step, transforms.RandomHorizontalFlip):
        return f"a left-right flip {_pct(step.p)} of the time"
    if isinstance(step, transforms.RandomVerticalFlip):
        return f"an upside-down flip {_pct(step.p)} of the time"
    if isinstance(step, transforms.ColorJitter):
        parts = [
            _jitter("brightness", step.brightness),
            _jitter("contrast", step.contrast),
            _jitter("saturation", step.saturation),
            _jitter("hue", step.hue, hue=True),
        ]
        return "colour jitter (" + ", ".join(p for p in parts if p) + ")"
    if isinstance(step, transforms.RandomRotation):
        low, high = step.degrees
        return f"a random rotation of {low:g}° to {high:g}°"
    return type(step).__name__  # a transform without words yet still shows by name


def describe_augmentation(pipeline: transforms.Compose) -> str:
    """One sentence: "a random crop of 35% to 100% ..., a left-right flip 50% of the time
    and colour jitter (...)". Validation and prediction images get none of it."""
    steps = [_one(step) for step in pipeline.transforms]
    if not steps:
        return "none"
    if len(steps) == 1:
        return steps[0]
    return ", ".join(steps[:-1]) + " and " + steps[-1]
