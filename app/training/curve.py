"""The learning curve's geometry: accuracy and macro-F1 of each succeeded run against the
labels it learned from, in the SVG's own units. The template only draws it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.training.formats import level_text
from app.training.models import TrainingRun

CURVE_RUNS = 500  # succeeded runs drawn on the learning curve, at most

# The SVG's own units; it scales to its box in CSS.
WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 20, 16, 52


@dataclass(frozen=True)
class CurvePoint:
    run_id: int
    labels: int
    accuracy: float
    macro_f1: float
    x: float
    y_accuracy: float
    y_macro_f1: float


@dataclass(frozen=True)
class Tick:
    text: str
    at: float  # x for the x axis, y for the y axis


@dataclass(frozen=True)
class Curve:
    points: list[CurvePoint]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    accuracy_path: str
    macro_f1_path: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    right: int = WIDTH - RIGHT
    bottom: int = HEIGHT - BOTTOM
    levels: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Measured:
    run: TrainingRun
    labels: int
    accuracy: float
    macro_f1: float


def nice_step(rough: float) -> float:
    """1, 2 or 5 times a power of ten: axis ticks people can read."""
    power = 10.0 ** math.floor(math.log10(rough))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= rough)


def _measured(runs: Sequence[TrainingRun]) -> list[_Measured]:
    out = []
    for run in runs:
        metrics = run.run_metrics
        if metrics is None or metrics.accuracy is None or metrics.macro_f1 is None:
            continue
        out.append(_Measured(run, run.label_count or 0, metrics.accuracy, metrics.macro_f1))
    return out


def curve(runs: Sequence[TrainingRun]) -> Curve | None:
    """The curve through ``runs`` (in label-count order); runs without scores are skipped."""
    values = _measured(runs)
    if not values:
        return None
    lowest = min(min(v.accuracy, v.macro_f1) for v in values)
    # Zoom in on the top of the scale, where runs differ; a wide spread shows it all.
    y_min = min(0.9, max(0.0, math.floor(lowest * 10) / 10))
    y_step = 0.05 if y_min >= 0.8 else 0.1
    if 1.0 - y_min > 0.5:
        y_min, y_step = 0.0, 0.2
    most = max(v.labels for v in values)
    x_step = nice_step(max(1, most) / 5)
    x_max = x_step * max(1, math.ceil(most / x_step))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_at(n: float) -> float:
        return round(LEFT + plot_w * n / x_max, 1)

    def y_at(v: float) -> float:
        return round(TOP + plot_h * (1.0 - (v - y_min) / (1.0 - y_min)), 1)

    points = [
        CurvePoint(
            v.run.id, v.labels, v.accuracy, v.macro_f1,
            x_at(v.labels), y_at(v.accuracy), y_at(v.macro_f1),
        )
        for v in values
    ]  # fmt: skip
    x_ticks = [
        Tick(f"{int(k * x_step):,}", x_at(k * x_step)) for k in range(round(x_max / x_step) + 1)
    ]
    y_ticks = [
        Tick(f"{y_min + k * y_step:.{2 if y_step < 0.1 else 1}f}", y_at(y_min + k * y_step))
        for k in range(round((1.0 - y_min) / y_step) + 1)
    ]
    return Curve(
        points=points,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        accuracy_path=" ".join(
            f"{'M' if i == 0 else 'L'}{p.x},{p.y_accuracy}" for i, p in enumerate(points)
        ),
        macro_f1_path=" ".join(
            f"{'M' if i == 0 else 'L'}{p.x},{p.y_macro_f1}" for i, p in enumerate(points)
        ),
        levels=sorted({level_text(v.run.level) for v in values}),
    )
