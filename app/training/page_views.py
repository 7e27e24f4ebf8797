"""What the training pages show, worked out from runs: table rows, the train form's
choices, the learning curve's geometry, the confusion matrix, a comparison of two runs.

No HTTP here, so each piece can be checked on its own; the templates only lay it out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from annotated_types import Ge, Gt, Le, Lt
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.db import utcnow
from app.errors import NotFound
from app.projects import service as projects
from app.projects.models import Project
from app.taxonomy.service import load_tree
from app.training import ranks
from app.training.choices import BACKBONE_LABELS, BACKBONES
from app.training.models import ACTIVE_STATUSES, RunMode, RunStatus, TrainingRun
from app.training.schemas import RunParams

MODE_LABELS = {RunMode.linear: "fast linear probe", RunMode.finetune: "full fine-tuning"}
# The runs table is wide: its cells say the same in fewer words.
MODE_SHORT = {RunMode.linear: "linear", RunMode.finetune: "fine-tune"}
CURVE_RUNS = 500  # succeeded runs drawn on the learning curve, at most


def run_in_project(
    session: Session, user: User, project_id: int, run_id: int
) -> tuple[Project, TrainingRun]:
    """The project (404 for outsiders) and its run; a run of another project is a 404 too."""
    project = projects.get_project(session, user, project_id)
    run = session.get(TrainingRun, run_id)
    if run is None or run.project_id != project.id:
        raise NotFound(f"No training run with id {run_id}.")
    return project, run


# --- Small formats --------------------------------------------------------------------


def level_text(level: int | None) -> str:
    return "deepest labels" if level is None else f"level {level}"


def duration(seconds: float) -> str:
    """``45 s``, ``3 min 20 s``, ``2 h 5 min``: an ETA a person reads at a glance."""
    total = max(0, round(seconds))
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def ago(when: datetime, now: datetime | None = None) -> str:
    seconds = ((now or utcnow()) - when).total_seconds()
    if seconds < 5:
        return "just now"
    if seconds < 60:
        return f"{int(seconds)} s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    return f"{days} day{'s' if days != 1 else ''} ago"


def score(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "—"


def signed(value: float | None) -> str:
    """A difference with its sign spelled out, so it never depends on colour."""
    if value is None:
        return "—"
    if round(value, 3) == 0:
        return "±0.000"
    return f"{value:+.3f}"


def _metric(run: TrainingRun, name: str) -> float | None:
    value = (run.metrics or {}).get(name)
    return float(value) if isinstance(value, int | float) else None


# --- The train form -------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class ParamField:
    """One advanced setting as a number input, with the API schema's own bounds."""

    name: str
    label: str
    hint: str
    step: str
    min: str | None
    max: str | None


PARAM_LABELS = {
    "C": "C (regularisation)",
    "lr": "Learning rate",
    "backbone_lr": "Backbone learning rate",
    "val_fraction": "Validation share",
}


def param_label(name: str) -> str:
    return PARAM_LABELS.get(name, name.replace("_", " ").capitalize())


def _param_fields() -> list[ParamField]:
    fields = []
    for name, info in RunParams.model_fields.items():
        low = high = None
        for rule in info.metadata:
            if isinstance(rule, Ge | Gt):
                low = rule.ge if isinstance(rule, Ge) else rule.gt
            elif isinstance(rule, Le | Lt):
                high = rule.le if isinstance(rule, Le) else rule.lt
        is_int = "int" in str(info.annotation)
        fields.append(
            ParamField(
                name=name,
                label=param_label(name),
                hint=(info.description or "") + " Blank: the default.",
                step="1" if is_int else "any",
                min=None if low is None else f"{low:g}",
                max=None if high is None else f"{high:g}",
            )
        )
    return fields


PARAM_FIELDS = _param_fields()


def level_choices(session: Session, project: Project) -> list[Choice]:
    """Deepest labels, then each level of the taxonomy with a few of its categories."""
    nodes = load_tree(session, project).depth_first()
    depth = max((n.depth for n in nodes), default=0)
    out = [Choice("", "Deepest labels (each label as it is)")]
    for level in range(1, depth + 1):
        names = [n.category.name for n in nodes if n.depth == level]
        sample = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
        out.append(Choice(str(level), f"Level {level}: {sample}"))
    return out


def backbone_choices() -> list[Choice]:
    return [Choice(name, BACKBONE_LABELS[name]) for name in BACKBONES]


# --- The runs list --------------------------------------------------------------------


@dataclass(frozen=True)
class RunRow:
    run: TrainingRun
    mode: str
    level: str
    percent: int
    eta: str | None
    accuracy: str
    macro_f1: str
    active: bool


def run_row(run: TrainingRun) -> RunRow:
    active = run.status in ACTIVE_STATUSES
    return RunRow(
        run=run,
        mode=MODE_SHORT[run.mode],
        level="deepest" if run.level is None else str(run.level),
        percent=round(100 * run.progress),
        eta=duration(run.eta_seconds) if active and run.eta_seconds is not None else None,
        accuracy=score(_metric(run, "accuracy")),
        macro_f1=score(_metric(run, "macro_f1")),
        active=active,
    )


@dataclass(frozen=True)
class Latest:
    """The newest model, against the one before it (the dashboard's five-second read)."""

    run: TrainingRun
    accuracy: str
    macro_f1: str
    previous: TrainingRun | None = None
    accuracy_change: str | None = None
    macro_f1_change: str | None = None
    labels_change: str | None = None


def latest(session: Session, project_id: int) -> Latest | None:
    two = session.scalars(
        select(TrainingRun)
        .where(TrainingRun.project_id == project_id, TrainingRun.status == RunStatus.succeeded)
        .order_by(TrainingRun.finished_at.desc(), TrainingRun.id.desc())
        .limit(2)
    ).all()
    if not two:
        return None
    run = two[0]
    base = Latest(run, score(_metric(run, "accuracy")), score(_metric(run, "macro_f1")))
    if len(two) == 1:
        return base
    prev = two[1]

    def change(name: str) -> str | None:
        now, before = _metric(run, name), _metric(prev, name)
        return None if now is None or before is None else signed(now - before)

    labels = None
    if run.label_count is not None and prev.label_count is not None:
        labels = f"{run.label_count - prev.label_count:+,}"
    return Latest(
        run=run,
        accuracy=base.accuracy,
        macro_f1=base.macro_f1,
        previous=prev,
        accuracy_change=change("accuracy"),
        macro_f1_change=change("macro_f1"),
        labels_change=labels,
    )


@dataclass(frozen=True)
class Ranking:
    """One line of "which strategy ordered the queue, from which run, when"."""

    strategy: str
    concrete: str
    run_id: int | None
    pool_size: str
    seconds: str
    created_at: datetime
    ago: str


def rankings(session: Session, project_id: int, now: datetime | None = None) -> list[Ranking]:
    return [
        Ranking(
            strategy=s.strategy,
            concrete=s.concrete,
            run_id=s.run_id,
            pool_size=f"{s.pool_size:,}",
            seconds=f"{s.seconds:.1f} s",
            created_at=s.created_at,
            ago=ago(s.created_at, now),
        )
        for s in ranks.latest(session, project_id)
    ]


# --- The learning curve ---------------------------------------------------------------

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


def _nice_step(rough: float) -> float:
    """1, 2 or 5 times a power of ten: axis ticks people can read."""
    power = 10.0 ** math.floor(math.log10(rough))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= rough)


def curve(session: Session, project_id: int) -> Curve | None:
    """Accuracy and macro-F1 of each succeeded run against the labels it learned from."""
    runs = [
        r
        for r in session.scalars(
            select(TrainingRun)
            .where(
                TrainingRun.project_id == project_id,
                TrainingRun.status == RunStatus.succeeded,
                TrainingRun.label_count.is_not(None),
            )
            .order_by(TrainingRun.label_count, TrainingRun.id)
            .limit(CURVE_RUNS)
        )
        if _metric(r, "accuracy") is not None and _metric(r, "macro_f1") is not None
    ]
    if not runs:
        return None
    values = [
        (r.id, r.label_count or 0, _metric(r, "accuracy"), _metric(r, "macro_f1")) for r in runs
    ]
    lowest = min(min(a or 0.0, f or 0.0) for _, _, a, f in values)
    # Zoom in on the top of the scale, where runs differ; a wide spread shows it all.
    y_min = min(0.9, max(0.0, math.floor(lowest * 10) / 10))
    y_step = 0.05 if y_min >= 0.8 else 0.1
    if 1.0 - y_min > 0.5:
        y_min, y_step = 0.0, 0.2
    x_step = _nice_step(max(1, max(n for _, n, _, _ in values)) / 5)
    x_max = x_step * max(1, math.ceil(max(n for _, n, _, _ in values) / x_step))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_at(n: float) -> float:
        return round(LEFT + plot_w * n / x_max, 1)

    def y_at(v: float) -> float:
        return round(TOP + plot_h * (1.0 - (v - y_min) / (1.0 - y_min)), 1)

    points = [
        CurvePoint(rid, n, a or 0.0, f or 0.0, x_at(n), y_at(a or 0.0), y_at(f or 0.0))
        for rid, n, a, f in values
    ]
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
        levels=sorted({level_text(r.level) for r in runs}),
    )


# --- One run's results ----------------------------------------------------------------


@dataclass(frozen=True)
class ClassScore:
    name: str
    precision: str
    recall: str
    f1: str
    support: int


def class_scores(run: TrainingRun) -> list[ClassScore]:
    per_class: dict[str, Any] = (run.metrics or {}).get("per_class") or {}
    order = [n for n in (run.metrics or {}).get("labels") or [] if n in per_class]
    order += [n for n in per_class if n not in order]
    return [
        ClassScore(
            name=str(name),
            precision=score(per_class[name].get("precision")),
            recall=score(per_class[name].get("recall")),
            f1=score(per_class[name].get("f1")),
            support=int(per_class[name].get("support") or 0),
        )
        for name in order
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


def confusion(run: TrainingRun) -> Confusion | None:
    """The matrix with each cell's category ids, so a cell can list its images."""
    matrix = (run.metrics or {}).get("confusion_matrix")
    classes = class_list(run)
    if not matrix or len(matrix) != len(classes) or any(len(r) != len(classes) for r in matrix):
        return None
    rows = []
    for (true_id, true_name), counts in zip(classes, matrix, strict=True):
        total = sum(int(c) for c in counts)
        cells = []
        for (pred_id, pred_name), raw in zip(classes, counts, strict=True):
            count = int(raw)
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


@dataclass(frozen=True)
class Epoch:
    epoch: int
    train_loss: str
    val_loss: str
    val_accuracy: str
    best: bool


def history(run: TrainingRun) -> list[Epoch]:
    """Fine-tuning's epochs; each entry is a dict (epoch numbers count from 1)."""
    metrics = run.metrics or {}
    best = metrics.get("best_epoch")
    out = []
    for n, entry in enumerate(metrics.get("history") or [], start=1):
        if not isinstance(entry, dict):
            continue
        epoch = int(entry.get("epoch", n))
        out.append(
            Epoch(
                epoch=epoch,
                train_loss=score(entry.get("train_loss")),
                val_loss=score(entry.get("val_loss")),
                val_accuracy=score(entry.get("val_accuracy", entry.get("val_acc"))),
                best=epoch == best,
            )
        )
    return out


def report_lines(run: TrainingRun) -> list[str]:
    """What the training set left out and how the run was judged, in sentences."""
    report = dict(run.report or {})
    lines = []
    if evaluation := report.pop("evaluation", None):
        lines.append(f"Evaluated by {evaluation}.")
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


def parameters(run: TrainingRun) -> list[tuple[str, str]]:
    rows = [
        ("Mode", MODE_LABELS[run.mode]),
        ("Taxonomy level", level_text(run.level)),
        ("Backbone", BACKBONE_LABELS.get(run.backbone, run.backbone)),
        ("Device", run.device or "—"),
        ("Started by", "auto-train" if run.trigger == "auto" else "a person"),
        ("Labeled images used", "—" if run.label_count is None else f"{run.label_count:,}"),
    ]
    rows += [(param_label(name), str(value)) for name, value in sorted((run.params or {}).items())]
    return rows


# --- Two runs side by side ------------------------------------------------------------


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


def _f1s(run: TrainingRun) -> dict[str, float | None]:
    per_class: dict[str, Any] = (run.metrics or {}).get("per_class") or {}
    return {
        c.name: (float(v) if isinstance(v := per_class[c.name].get("f1"), int | float) else None)
        for c in class_scores(run)
    }


def _change(a: float | None, b: float | None) -> str | None:
    return None if a is None or b is None else signed(b - a)


def compare(a: TrainingRun, b: TrainingRun) -> Comparison:
    """Settings, scores and per-class F1 of two runs; changes read from a to b."""
    settings = [
        Row("Status", a.status.value, b.status.value),
        Row("Mode", MODE_LABELS[a.mode], MODE_LABELS[b.mode]),
        Row("Taxonomy level", level_text(a.level), level_text(b.level)),
        Row("Backbone", a.backbone, b.backbone),
        Row("Device", a.device or "—", b.device or "—"),
        Row(
            "Evaluation",
            str((a.report or {}).get("evaluation", "—")),
            str((b.report or {}).get("evaluation", "—")),
        ),
    ]
    for name in sorted(set(a.params or {}) | set(b.params or {})):
        settings.append(
            Row(param_label(name), str((a.params or {}).get(name, "default")),
                str((b.params or {}).get(name, "default")))
        )  # fmt: skip
    labels_a, labels_b = a.label_count, b.label_count
    scores = [
        Row(
            "Labeled images",
            "—" if labels_a is None else f"{labels_a:,}",
            "—" if labels_b is None else f"{labels_b:,}",
            None if labels_a is None or labels_b is None else f"{labels_b - labels_a:+,}",
        )
    ]
    for key, name in (("accuracy", "Accuracy"), ("macro_f1", "Macro-F1")):
        va, vb = _metric(a, key), _metric(b, key)
        scores.append(Row(name, score(va), score(vb), _change(va, vb)))
    f1_a, f1_b = _f1s(a), _f1s(b)
    classes = [
        Row(
            name,
            score(f1_a.get(name)),
            score(f1_b.get(name)),
            _change(f1_a.get(name), f1_b.get(name)),
        )
        for name in list(f1_a) + [n for n in f1_b if n not in f1_a]
    ]
    return Comparison(a, b, settings, scores, classes)
