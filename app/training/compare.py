"""Two runs side by side: settings, scores and per-class F1, changes read from a to b."""

from __future__ import annotations

from dataclasses import dataclass

from app.training.formats import (
    MODE_LABELS,
    change,
    head_text,
    level_text,
    param_label,
    score,
)
from app.training.metrics import RunMetrics
from app.training.models import TrainingRun
from app.training.run_report import class_order


@dataclass(frozen=True)
class Row:
    name: str
    a: str
    b: str
    change: str | None = None

    @property
    def differs(self) -> bool:
        return self.a != self.b


@dataclass(frozen=True)
class Comparison:
    a: TrainingRun
    b: TrainingRun
    settings: list[Row]
    scores: list[Row]
    classes: list[Row]


def _f1s(metrics: RunMetrics) -> dict[str, float | None]:
    return {name: metrics.per_class[name].f1 for name in class_order(metrics)}


def _figures(name: str, a: float | None, b: float | None) -> Row:
    return Row(name, score(a), score(b), change(a, b))


def _settings(a: TrainingRun, b: TrainingRun) -> list[Row]:
    rows = [
        Row("Status", a.status.value, b.status.value),
        Row("Mode", MODE_LABELS[a.mode], MODE_LABELS[b.mode]),
        Row("Taxonomy level", level_text(a.level), level_text(b.level)),
        Row("Backbone", a.backbone, b.backbone),
        Row("Head", head_text(a.mode, a.head), head_text(b.mode, b.head)),
        Row("Device", a.device or "—", b.device or "—"),
        Row(
            "Evaluation",
            str((a.report or {}).get("evaluation", "—")),
            str((b.report or {}).get("evaluation", "—")),
        ),
    ]
    for name in sorted(set(a.params or {}) | set(b.params or {})):
        rows.append(
            Row(param_label(name), str((a.params or {}).get(name, "default")),
                str((b.params or {}).get(name, "default")))
        )  # fmt: skip
    return rows


def compare(a: TrainingRun, b: TrainingRun) -> Comparison:
    """Settings, scores and per-class F1 of two runs; changes read from a to b."""
    labels_a, labels_b = a.label_count, b.label_count
    scores = [
        Row(
            "Labeled images",
            "—" if labels_a is None else f"{labels_a:,}",
            "—" if labels_b is None else f"{labels_b:,}",
            None if labels_a is None or labels_b is None else f"{labels_b - labels_a:+,}",
        )
    ]
    metrics_a, metrics_b = a.run_metrics, b.run_metrics
    scores.append(_figures("Accuracy", metrics_a.accuracy, metrics_b.accuracy))
    scores.append(_figures("Macro-F1", metrics_a.macro_f1, metrics_b.macro_f1))
    f1_a, f1_b = _f1s(metrics_a), _f1s(metrics_b)
    classes = [
        _figures(name, f1_a.get(name), f1_b.get(name))
        for name in list(f1_a) + [n for n in f1_b if n not in f1_a]
    ]
    return Comparison(a, b, _settings(a, b), scores, classes)
