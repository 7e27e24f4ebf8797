"""The project's training section: the Train form's choices, the runs table, the latest
model against the one before it, and which strategy ordered the queue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from annotated_types import Ge, Gt, Le, Lt
from sqlalchemy.orm import Session

from app.projects.choices import BACKBONE_LABELS, BACKBONES
from app.projects.models import Project
from app.taxonomy.service import load_tree
from app.training import ranks
from app.training.formats import (
    MODE_SHORT,
    ago,
    change,
    duration,
    param_label,
    ranking_name,
    score,
)
from app.training.models import ACTIVE_STATUSES, TrainingRun
from app.training.schemas import RunParams

# --- The Train form -------------------------------------------------------------------


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


@dataclass(frozen=True)
class HeadChoice:
    value: str
    label: str
    hint: str  # one line: what it is and when to pick it


HEAD_CHOICES = (
    HeadChoice(
        "logreg", "Logistic regression",
        "the default: the fastest to fit, and within a point of the others on flowers12.",
    ),
    HeadChoice(
        "svm", "Linear SVM (calibrated)",
        "a maximum-margin line per class, its scores calibrated into probabilities; "
        "2-11x slower to fit.",
    ),
    HeadChoice(
        "mlp", "Small MLP",
        "one hidden layer with dropout, stopped early: can follow curved class borders "
        "(on flowers12 +0.8 points with 720 labels, none with 120); 10-27x slower to fit.",
    ),
)  # fmt: skip


def backbone_choices() -> list[Choice]:
    return [Choice(name, BACKBONE_LABELS[name]) for name in BACKBONES]


# --- The runs -------------------------------------------------------------------------


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
    metrics = run.run_metrics
    return RunRow(
        run=run,
        mode=MODE_SHORT[run.mode],
        level="deepest" if run.level is None else str(run.level),
        percent=round(100 * run.progress),
        eta=duration(run.eta_seconds) if active and run.eta_seconds is not None else None,
        accuracy=score(metrics.accuracy),
        macro_f1=score(metrics.macro_f1),
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


def latest(newest_first: Sequence[TrainingRun]) -> Latest | None:
    """The first of ``newest_first`` (succeeded runs), against the second when there is one."""
    if not newest_first:
        return None
    run = newest_first[0]
    now = run.run_metrics
    base = Latest(run, score(now.accuracy), score(now.macro_f1))
    if len(newest_first) == 1:
        return base
    prev = newest_first[1]
    before = prev.run_metrics
    labels = None
    if run.label_count is not None and prev.label_count is not None:
        labels = f"{run.label_count - prev.label_count:+,}"
    return Latest(
        run=run,
        accuracy=base.accuracy,
        macro_f1=base.macro_f1,
        previous=prev,
        accuracy_change=change(before.accuracy, now.accuracy),
        macro_f1_change=change(before.macro_f1, now.macro_f1),
        labels_change=labels,
    )


@dataclass(frozen=True)
class Ranking:
    """One line of "which strategy ordered the queue, from which run, when"."""

    strategy: str
    concrete: str
    run_id: int | None
    name: str  # the strategy and what it ran as, worded as on the overview
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
            name=ranking_name(s.strategy, s.concrete),
            pool_size=f"{s.pool_size:,}",
            seconds=f"{s.seconds:.1f} s",
            created_at=s.created_at,
            ago=ago(s.created_at, now),
        )
        for s in ranks.latest(session, project_id)
    ]
