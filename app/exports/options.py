"""What an export was asked for, checked once for the API and the CLI alike."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from app.errors import InvalidInput

Format = Literal["imagefolder", "csv", "coco"]
FORMATS: tuple[Format, ...] = ("imagefolder", "csv", "coco")
SPLITS = ("train", "val", "test")
DEFAULT_RATIOS = "0.8,0.1,0.1"
Ratios = tuple[float, float, float]
_BY_NAME: dict[str, Format] = {f: f for f in FORMATS}


@dataclass(frozen=True)
class ExportOptions:
    format: Format = "imagefolder"
    level: int | None = None  # 1 = the roots; None = each image's own label
    split: bool = False
    ratios: Ratios = (0.8, 0.1, 0.1)
    seed: int = 0
    images: bool = True  # csv and coco only: imagefolder is the images


def parse_ratios(text: str) -> Ratios:
    """ "train,val,test" as three non-negative numbers summing to 1."""
    parts = [p.strip() for p in text.split(",")]
    problem = f"ratios: expected three numbers 'train,val,test' summing to 1, got {text!r}"
    if len(parts) != 3:
        raise InvalidInput(f"{problem} ({len(parts)} value(s))")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InvalidInput(f"{problem} (not numbers)") from None
    if not all(math.isfinite(v) and v >= 0 for v in values):
        raise InvalidInput(f"{problem} (each must be a finite number >= 0)")
    if not math.isclose(sum(values), 1.0, abs_tol=1e-6):
        raise InvalidInput(f"{problem} (they sum to {sum(values):g})")
    return values[0], values[1], values[2]


def make_options(
    format: str = "imagefolder",
    level: int | None = None,
    split: bool = False,
    ratios: str = DEFAULT_RATIOS,
    seed: int = 0,
    images: bool = True,
) -> ExportOptions:
    fmt = _BY_NAME.get(format)
    if fmt is None:
        raise InvalidInput(f"format: {format!r} is not one of {', '.join(FORMATS)}")
    if level is not None and level < 1:
        raise InvalidInput(f"level: must be 1 (the top level) or deeper, got {level}")
    return ExportOptions(fmt, level, split, parse_ratios(ratios), seed, images)
