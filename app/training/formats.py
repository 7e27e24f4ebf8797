"""How the training pages write numbers, times and names: short, and the same everywhere."""

from __future__ import annotations

from datetime import datetime

from app.db import utcnow
from app.training.models import RunMode

MODE_LABELS = {RunMode.linear: "fast linear probe", RunMode.finetune: "full fine-tuning"}
# The runs table is wide: its cells say the same in fewer words.
MODE_SHORT = {RunMode.linear: "linear", RunMode.finetune: "fine-tune"}

HEAD_LABELS = {
    "logreg": "logistic regression",
    "svm": "linear SVM (calibrated)",
    "mlp": "small MLP (one hidden layer)",
}


def head_text(mode: RunMode, head: str | None) -> str:
    """What learned from the features: a fine-tuned network's head is its own layer."""
    if mode is RunMode.finetune:
        return "the network's own linear layer"
    return HEAD_LABELS.get(head or "logreg", head or "logreg")


PARAM_LABELS = {
    "C": "C (regularisation)",
    "lr": "Learning rate",
    "backbone_lr": "Backbone learning rate",
    "val_fraction": "Validation share",
}


def param_label(name: str) -> str:
    return PARAM_LABELS.get(name, name.replace("_", " ").capitalize())


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


def score(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def signed(value: float | None) -> str:
    """A difference with its sign spelled out, so it never depends on colour."""
    if value is None:
        return "—"
    if round(value, 3) == 0:
        return "±0.000"
    return f"{value:+.3f}"


def change(a: float | None, b: float | None) -> str | None:
    """From ``a`` to ``b``, signed; ``None`` when either is missing."""
    return None if a is None or b is None else signed(b - a)


def ranking_name(strategy: str, concrete: str) -> str:
    """The strategy, with what it ran as when that differs: "default (typiclust)"."""
    return strategy if concrete == strategy else f"{strategy} ({concrete})"


def ranking_text(strategy: str, concrete: str | None, run_id: int | None) -> str:
    """What ranks the queue, in the words every page uses: "margin · run #5"."""
    if concrete is None:
        return f"{strategy} · not ranked yet (images in upload order)"
    name = ranking_name(strategy, concrete)
    return f"{name} · run #{run_id}" if run_id is not None else f"{name} · before any model"
