"""Does a fine-tuning run's history show over-fitting? Two rules, each said in words.

- The gap: training accuracy more than ``GAP_POINTS`` points above validation accuracy
  at the epoch whose weights were kept (the model shipped), or at the last epoch when a
  run does not say which it kept.
- The turn: validation loss rising for ``RISING_EPOCHS`` epochs in a row, anywhere in
  the history (early stopping may have kept an earlier epoch, which the words say).

Pure: it reads the stored history and nothing else, so pages and tests call it alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from app.training.metrics import EpochMetrics, RunMetrics

GAP_POINTS = 10.0  # percentage points
RISING_EPOCHS = 2


@dataclass(frozen=True)
class OverfitWarning:
    rule: str  # "gap" or "rising"
    text: str


def _numbered(history: Sequence[EpochMetrics]) -> list[tuple[int, EpochMetrics]]:
    return [(n if e.epoch is None else e.epoch, e) for n, e in enumerate(history, start=1)]


def gap_warning(history: Sequence[EpochMetrics], best_epoch: int | None) -> OverfitWarning | None:
    epochs = _numbered(history)
    if not epochs:
        return None
    kept = [pair for pair in epochs if pair[0] == best_epoch]
    number, entry = kept[0] if kept else epochs[-1]
    which = f"the kept epoch ({number})" if kept else f"the last epoch ({number})"
    if entry.train_accuracy is None or entry.val_accuracy is None:
        return None
    gap = (entry.train_accuracy - entry.val_accuracy) * 100
    if gap <= GAP_POINTS:
        return None
    return OverfitWarning(
        "gap",
        f"At {which}, training accuracy ({entry.train_accuracy:.1%}) is {gap:.1f} points "
        f"above validation accuracy ({entry.val_accuracy:.1%}), more than "
        f"{GAP_POINTS:g}: the model knows its training images better than new ones. "
        "More labels, or fewer epochs, usually narrow the gap.",
    )


def rising_warning(
    history: Sequence[EpochMetrics], best_epoch: int | None
) -> OverfitWarning | None:
    epochs = [(n, e.val_loss) for n, e in _numbered(history) if e.val_loss is not None]
    for start in range(len(epochs) - RISING_EPOCHS):
        window = epochs[start : start + RISING_EPOCHS + 1]
        losses = [loss for _, loss in window if loss is not None]
        if all(later > earlier for earlier, later in pairwise(losses)):
            first, last = window[0][0], window[-1][0]
            path = " → ".join(f"{loss:.3f}" for loss in losses)
            kept = ""
            if best_epoch is not None:
                kept = (
                    f" Early stopping kept epoch {best_epoch}, before the rise."
                    if best_epoch <= first
                    else f" The kept epoch ({best_epoch}) is after it."
                )
            return OverfitWarning(
                "rising",
                f"Validation loss rose {RISING_EPOCHS} epochs in a row, from epoch {first} "
                f"to {last} ({path}): past that point the model fit its training images at "
                f"the cost of new ones.{kept}",
            )
    return None


def warnings(metrics: RunMetrics) -> list[OverfitWarning]:
    """Every rule the run breaks, gap first; none for a linear run (no history)."""
    history = metrics.history or []
    found = (gap_warning(history, metrics.best_epoch), rising_warning(history, metrics.best_epoch))
    return [w for w in found if w is not None]
