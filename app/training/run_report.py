"""One run's results as its page shows them: parameters, what the training set left out,
per-class scores, the confusion matrix and fine-tuning's epochs."""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.errors import NotFound
from app.projects.choices import BACKBONE_LABELS
from app.training.formats import MODE_LABELS, head_text, level_text, param_label, score
from app.training.metrics import RunMetrics
from app.training.models import TrainingRun


def parameters(run: TrainingRun) -> list[tuple[str, str]]:
    rows = [
        ("Mode", MODE_LABELS[run.mode]),
        ("Taxonomy level", level_text(run.level)),
        ("Backbone", BACKBONE_LABELS.get(run.backbone, run.backbone)),
        ("Head", head_text(run.mode, run.head)),
        ("Device", run.device or "—"),
        ("Started by", "auto-train" if run.trigger == "auto" else "a person"),
        ("Labeled images used", "—" if run.label_count is None else f"{run.label_count:,}"),
    ]
    rows += [
        (param_label(name), folds_text(run) if name == "folds" else str(value))
        for name, value in sorted((run.params or {}).items())
    ]
    return rows


def _folds(run: TrainingRun) -> tuple[int, int | None, int | None]:
    """Folds asked, folds used and the smallest class's size (the last two None when the
    run predates storing them, or is not a linear run)."""
    report = run.report or {}
    asked = (run.params or {}).get("folds")
    used, smallest = report.get("folds_used"), report.get("smallest_class")
    return (
        asked if isinstance(asked, int) else 0,
        used if isinstance(used, int) else None,
        smallest if isinstance(smallest, int) else None,
    )


def folds_text(run: TrainingRun) -> str:
    """The folds parameter as the evaluation used it: "5 asked, 3 used: ..." when the
    smallest class capped them, so the parameters and the evaluation line agree."""
    asked, used, smallest = _folds(run)
    if used is None or used == asked or not asked:
        return str((run.params or {}).get("folds"))
    why = f": the smallest class has {smallest:,} labels" if smallest is not None else ""
    return f"{asked} asked, {used} used{why}"


def _evaluation_line(run: TrainingRun, evaluation: object) -> str:
    asked, used, smallest = _folds(run)
    if used is None or used == asked or not asked:
        return f"Evaluated by {evaluation}."
    why = (
        f": the smallest class has {smallest:,} labeled images, and each fold holds out "
        "at least one of every class"
        if smallest is not None and used < asked
        else ""
    )
    return f"Evaluated by {evaluation} ({asked} folds asked, {used} used{why})."


def report_lines(run: TrainingRun) -> list[str]:
    """What the training set left out and how the run was judged, in sentences."""
    report = dict(run.report or {})
    lines = []
    if evaluation := report.pop("evaluation", None):
        lines.append(_evaluation_line(run, evaluation))
    for shown_elsewhere in ("folds_used", "smallest_class", "augmentation", "test_share"):
        report.pop(shown_elsewhere, None)
    tested = report.pop("test_images", 0)
    if tested:
        lines.append(
            f"{tested:,} labeled image(s) are the project's test split: this run neither "
            "trained nor tuned on them. Its scores on them are under Test split."
        )
    above = report.pop("above_level", 0)
    if above:
        lines.append(
            f"{above:,} label(s) above {level_text(run.level)} were left out: they do not say "
            "which class at this level an image belongs to."
        )
    small = report.pop("small_classes", {}) or {}
    minimum = report.pop("min_per_class", 2)
    if small:
        listed = ", ".join(f"{name} ({n})" for name, n in small.items())
        lines.append(f"Classes with fewer than {minimum} labeled images were left out: {listed}.")
    unreadable = report.pop("unreadable", 0)
    if unreadable:
        lines.append(f"{unreadable:,} labeled image(s) could not be read and were left out.")
    report.pop("per_class", None)  # the per-class table shows the support
    for key, value in report.items():
        if isinstance(value, str | int | float | bool):
            lines.append(f"{key.replace('_', ' ').capitalize()}: {value}.")
    return lines


@dataclass(frozen=True)
class ClassScore:
    name: str
    precision: str
    recall: str
    f1: str
    support: int


def class_order(metrics: RunMetrics) -> list[str]:
    """The per-class names in the run's class order; any the order misses come last."""
    order = [n for n in metrics.labels if n in metrics.per_class]
    return order + [n for n in metrics.per_class if n not in order]


def class_scores(metrics: RunMetrics) -> list[ClassScore]:
    return [
        ClassScore(
            name=name,
            precision=score(metrics.per_class[name].precision),
            recall=score(metrics.per_class[name].recall),
            f1=score(metrics.per_class[name].f1),
            support=metrics.per_class[name].support,
        )
        for name in class_order(metrics)
    ]


@dataclass(frozen=True)
class Cell:
    count: int
    true_id: int
    predicted_id: int
    true_name: str
    predicted_name: str
    shade: int  # 0..10: the share of the row, for the heat map
    share: str
    correct: bool


@dataclass(frozen=True)
class MatrixRow:
    class_id: int
    name: str
    total: int
    cells: list[Cell]


@dataclass(frozen=True)
class Confusion:
    columns: list[tuple[int, str]]
    rows: list[MatrixRow]


def class_list(run: TrainingRun) -> list[tuple[int, str]]:
    return [(int(cid), str(name)) for cid, name in run.classes or []]


def confusion(run: TrainingRun, metrics: RunMetrics) -> Confusion | None:
    """The matrix with each cell's category ids, so a cell can list its images."""
    matrix = metrics.confusion_matrix
    classes = class_list(run)
    if not matrix or len(matrix) != len(classes) or any(len(r) != len(classes) for r in matrix):
        return None
    rows = []
    for (true_id, true_name), counts in zip(classes, matrix, strict=True):
        total = sum(counts)
        cells = []
        for (pred_id, pred_name), count in zip(classes, counts, strict=True):
            fraction = count / total if total else 0.0
            cells.append(
                Cell(
                    count=count,
                    true_id=true_id,
                    predicted_id=pred_id,
                    true_name=true_name,
                    predicted_name=pred_name,
                    shade=math.ceil(fraction * 10) if count else 0,
                    share=f"{fraction:.0%}",
                    correct=true_id == pred_id,
                )
            )
        rows.append(MatrixRow(true_id, true_name, total, cells))
    return Confusion(classes, rows)


def class_name(run: TrainingRun, class_id: int) -> str:
    for cid, name in class_list(run):
        if cid == class_id:
            return name
    raise NotFound(f"Category {class_id} is not one of the classes of run {run.id}.")


def augmentation(run: TrainingRun) -> str | None:
    """The random transforms a fine-tuning run trained with, as the worker stored them."""
    words = (run.report or {}).get("augmentation")
    return words if isinstance(words, str) and words else None


@dataclass(frozen=True)
class HeldOutTest:
    accuracy: str
    macro_f1: str
    count: int
    share: str


def held_out_test(metrics: RunMetrics) -> HeldOutTest | None:
    test = metrics.test
    if test is None:
        return None
    share = "—" if test.share is None else f"{test.share:.0%}"
    return HeldOutTest(score(test.accuracy), score(test.macro_f1), test.count, share)


@dataclass(frozen=True)
class Epoch:
    epoch: int
    train_loss: str
    val_loss: str
    val_accuracy: str
    train_accuracy: str
    best: bool


def history(metrics: RunMetrics) -> list[Epoch]:
    """Fine-tuning's epochs (numbered from 1), the kept one marked; none for a linear run."""
    out = []
    for n, entry in enumerate(metrics.history or [], start=1):
        epoch = n if entry.epoch is None else entry.epoch
        out.append(
            Epoch(
                epoch=epoch,
                train_loss=score(entry.train_loss),
                val_loss=score(entry.val_loss),
                val_accuracy=score(entry.val_accuracy),
                train_accuracy=score(entry.train_accuracy),
                best=epoch == metrics.best_epoch,
            )
        )
    return out
