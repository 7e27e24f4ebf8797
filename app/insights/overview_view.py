"""The project overview as the page draws it: the stats, with each chart's geometry in
its SVG's own units (server-side SVG, like the learning curve in app/training/curve.py).

Every chart also has its figures as text (a table or a list), so the drawing is never
the only way to read them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.insights import overview
from app.insights.overview_schemas import ClassBalance, ProjectStats
from app.projects.models import Project
from app.training import curve as learning_curve
from app.training.formats import signed
from app.training.models import ACTIVE_STATUSES, TrainingRun

SERIES = 6  # annotators drawn in their own colour; the rest share "others"
DAY_W, DAY_H, DAY_LEFT, DAY_BOTTOM, DAY_TOP = 320, 150, 30, 22, 8


@dataclass(frozen=True)
class Segment:
    name: str
    value: int
    x: float
    width: float
    css: str


@dataclass
class ClassRow:
    row: ClassBalance
    width: float  # 0..100, against the largest class
    children: list[ClassRow] = field(default_factory=list)


@dataclass(frozen=True)
class Bar:
    series: int
    name: str
    value: int
    x: float
    y: float
    height: float


@dataclass(frozen=True)
class DayColumn:
    day: str
    label: str
    total: int
    bars: list[Bar]
    x_mid: float  # where its date is written
    show_label: bool


@dataclass(frozen=True)
class DaysChart:
    names: list[str]  # series names, in colour order
    columns: list[DayColumn]
    y_max: int
    bar_width: float
    width: int = DAY_W
    height: int = DAY_H
    left: int = DAY_LEFT
    top: int = DAY_TOP
    bottom: int = DAY_H - DAY_BOTTOM


@dataclass(frozen=True)
class ActiveRun:
    run_id: int
    status: str
    phase: str
    percent: int


@dataclass(frozen=True)
class Overview:
    stats: ProjectStats
    progress: list[Segment]
    classes: list[ClassRow]
    days: DaysChart
    curve: learning_curve.Curve | None
    accuracy_change: str | None
    macro_f1_change: str | None
    active_run: ActiveRun | None


def _progress(stats: ProjectStats) -> list[Segment]:
    p = stats.progress
    total = max(1, p.total)
    out, x = [], 0.0
    for name, value, css in (
        ("labeled", p.labeled, "seg-labeled"),
        ("rejected", p.rejected, "seg-rejected"),
        ("unlabeled", p.unlabeled, "seg-unlabeled"),
    ):
        width = round(1000 * value / total, 1)
        out.append(Segment(name, value, x, width, css))
        x = round(x + width, 1)
    return out


def _class_tree(rows: list[ClassBalance]) -> list[ClassRow]:
    biggest = max((r.total for r in rows), default=0) or 1
    by_id: dict[int, ClassRow] = {}
    roots: list[ClassRow] = []
    for r in rows:  # depth first: a parent comes before its children
        node = ClassRow(r, round(100 * r.total / biggest, 1))
        by_id[r.category_id] = node
        parent = by_id.get(r.parent_id) if r.parent_id is not None else None
        (parent.children if parent else roots).append(node)
    return roots


def _days(stats: ProjectStats) -> DaysChart:
    annotators = stats.per_day.annotators
    names = [a.username for a in annotators[:SERIES]]
    series = [a.counts for a in annotators[:SERIES]]
    if len(annotators) > SERIES:
        names.append("others")
        rest = annotators[SERIES:]
        series.append([sum(a.counts[k] for a in rest) for k in range(len(stats.per_day.days))])
    days = stats.per_day.days
    totals = [sum(s[k] for s in series) for k in range(len(days))]
    top = max(totals, default=0)
    y_max = max(1, math.ceil(top / 5) * 5) if top > 5 else max(1, top)
    plot_w = DAY_W - DAY_LEFT - 4
    plot_h = DAY_H - DAY_TOP - DAY_BOTTOM
    step = plot_w / max(1, len(days))
    columns = []
    for k, day in enumerate(days):
        y = float(DAY_H - DAY_BOTTOM)
        bars = []
        for n, counts in enumerate(series):
            if counts[k]:
                h = round(plot_h * counts[k] / y_max, 1)
                y = round(y - h, 1)
                bars.append(Bar(n, names[n], counts[k], round(DAY_LEFT + k * step + 2, 1), y, h))
        label = date.fromisoformat(day).strftime("%b %-d")
        x_mid = round(DAY_LEFT + k * step + step / 2, 1)
        # First, middle and last: three dates fit under the bars at any width.
        shown = k in (0, len(days) // 2, len(days) - 1)
        columns.append(DayColumn(day, label, totals[k], bars, x_mid, shown))
    return DaysChart(names, columns, y_max, round(step - 4, 1))


def _active_run(session: Session, project: Project) -> ActiveRun | None:
    run = session.scalar(
        select(TrainingRun)
        .where(TrainingRun.project_id == project.id, TrainingRun.status.in_(ACTIVE_STATUSES))
        .order_by(TrainingRun.id.desc())
        .limit(1)
    )
    if run is None:
        return None
    return ActiveRun(run.id, run.status.value, run.phase, round(100 * run.progress))


def _slim(run: TrainingRun) -> TrainingRun:
    """The run as the curve reads it (id, labels, level, the two scores), unattached:
    its full metrics (per class, the confusion matrix) are not parsed for a line."""
    return TrainingRun(
        id=run.id,
        label_count=run.label_count,
        level=run.level,
        metrics=overview.scores(run).stored(),
    )


def build(session: Session, project: Project) -> Overview:
    measured = overview.curve_runs(session, project)
    stats = overview.stats(session, project, measured=measured)
    model = stats.model
    return Overview(
        stats=stats,
        progress=_progress(stats),
        classes=_class_tree(stats.classes),
        days=_days(stats),
        curve=learning_curve.curve([_slim(run) for run in measured]),
        accuracy_change=signed(model.accuracy_change) if model and model.previous_run_id else None,
        macro_f1_change=signed(model.macro_f1_change) if model and model.previous_run_id else None,
        active_run=_active_run(session, project),
    )


def for_page(session: Session, project: Project, _can_manage: bool) -> Overview:
    """The project page's overview (registered by app.pages as a PAGE_EXTRA)."""
    return build(session, project)
