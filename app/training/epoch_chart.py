"""Fine-tuning's epochs as two small charts, loss and accuracy, training beside
validation, with the epoch early stopping kept marked. Geometry only, in the SVG's own
units; the template draws it and the epochs table under it is its text alternative."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.training.curve import Tick, nice_step
from app.training.metrics import EpochMetrics, RunMetrics

WIDTH, HEIGHT = 320, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 44


@dataclass(frozen=True)
class Point:
    epoch: int
    value: float
    x: float
    y: float


@dataclass(frozen=True)
class Series:
    name: str  # "Training" or "Validation"
    css: str  # "train" or "val": the line's colour and dash, in CSS
    path: str
    points: list[Point]


@dataclass(frozen=True)
class Panel:
    key: str  # "loss" or "accuracy": ids and classes
    title: str
    series: list[Series]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    kept_x: float | None  # the kept epoch's vertical line
    summary: str  # the chart's <desc>
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    right: int = WIDTH - RIGHT
    bottom: int = HEIGHT - BOTTOM


@dataclass(frozen=True)
class EpochChart:
    panels: list[Panel]
    kept: int | None


def _series(
    name: str,
    css: str,
    rows: Sequence[tuple[int, EpochMetrics]],
    value: Callable[[EpochMetrics], float | None],
    x_at: Callable[[int], float],
    y_at: Callable[[float], float],
) -> Series | None:
    points = [
        Point(n, v, x_at(n), y_at(v))
        for n, e in rows
        if (v := value(e)) is not None and math.isfinite(v)
    ]
    if not points:
        return None
    path = " ".join(f"{'M' if i == 0 else 'L'}{p.x},{p.y}" for i, p in enumerate(points))
    return Series(name, css, path, points)


def _panel(
    key: str,
    title: str,
    rows: Sequence[tuple[int, EpochMetrics]],
    train: Callable[[EpochMetrics], float | None],
    val: Callable[[EpochMetrics], float | None],
    kept: int | None,
    y_max: float | None,
) -> Panel | None:
    values = [v for _, e in rows for v in (train(e), val(e)) if v is not None and math.isfinite(v)]
    if not values:
        return None
    first, last = rows[0][0], rows[-1][0]
    top = y_max if y_max is not None else max(values)
    y_step = nice_step(max(top, 1e-6) / 4)
    top = y_step * max(1, math.ceil(top / y_step - 1e-9))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_at(n: int) -> float:
        span = last - first
        return round(LEFT + (plot_w / 2 if span == 0 else plot_w * (n - first) / span), 1)

    def y_at(v: float) -> float:
        return round(TOP + plot_h * (1.0 - min(max(v, 0.0), top) / top), 1)

    lines = [
        s
        for s in (
            _series("Training", "train", rows, train, x_at, y_at),
            _series("Validation", "val", rows, val, x_at, y_at),
        )
        if s is not None
    ]
    x_every = max(1, math.ceil((last - first + 1) / 8))  # at most about 8 labels
    x_ticks = [Tick(str(n), x_at(n)) for n, _ in rows if (n - first) % x_every == 0]
    digits = 2 if y_step < 0.1 else 1
    y_ticks = [
        Tick(f"{k * y_step:.{digits}f}", y_at(k * y_step)) for k in range(round(top / y_step) + 1)
    ]
    kept_x = x_at(kept) if kept is not None and first <= kept <= last else None
    summary = f"{title} over {len(rows)} epoch(s), training and validation" + (
        f"; epoch {kept} was kept" if kept_x is not None else ""
    )
    return Panel(key, title, lines, x_ticks, y_ticks, kept_x, summary + ".")


def epoch_chart(metrics: RunMetrics) -> EpochChart | None:
    """The loss and accuracy panels of a fine-tuning run; None for a linear run."""
    rows = [(n if e.epoch is None else e.epoch, e) for n, e in enumerate(metrics.history or [], 1)]
    if not rows:
        return None
    rows.sort(key=lambda r: r[0])
    kept = metrics.best_epoch
    panels = [
        _panel("loss", "Loss", rows, lambda e: e.train_loss, lambda e: e.val_loss, kept, None),
        _panel(
            "accuracy", "Accuracy", rows,
            lambda e: e.train_accuracy, lambda e: e.val_accuracy, kept, 1.0,
        ),
    ]  # fmt: skip
    shown = [p for p in panels if p is not None]
    return EpochChart(shown, kept) if shown else None
