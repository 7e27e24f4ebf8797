"""What a training run stores in ``TrainingRun.metrics``: its evaluation figures.

The worker builds a ``RunMetrics`` and stores ``stored()``; pages read it back with
``read`` (through ``TrainingRun.run_metrics``). The API returns the stored dict as it
is, so the keys here are the API's too.

Validation is strict when the worker writes, so a figure of the wrong type fails the
run instead of being saved, and lenient when a row is read back: a row from an older
version, or edited by hand, shows what it can (a figure it cannot read shows as
missing) rather than failing the page.
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

_LENIENT = {"lenient": True}


def _is_lenient(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("lenient"))


class _Stored(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known_keys_only(cls, data: Any, info: ValidationInfo) -> Any:
        # Keys an older (or newer) version wrote are ignored when reading, refused when writing.
        if _is_lenient(info) and isinstance(data, dict):
            return {k: v for k, v in data.items() if k in cls.model_fields}
        return data

    @field_validator("*", mode="wrap")
    @classmethod
    def _default_when_unreadable(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        try:
            return handler(value)
        except ValidationError:
            if not _is_lenient(info) or info.field_name is None:
                raise
            return cls.model_fields[info.field_name].get_default(call_default_factory=True)


class ClassMetrics(_Stored):
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    support: int = 0  # evaluated images labeled with this class


class EpochMetrics(_Stored):
    """One fine-tuning epoch, measured on the held-out split."""

    epoch: int | None = None  # counts from 1; a row without it is numbered by position
    train_loss: float | None = None
    # The running mean over the epoch's augmented training batches (older runs lack it).
    train_accuracy: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None


class SplitScores(_Stored):
    """The project's held-out test split, scored once by the final model: no run trains
    or tunes on it, so these figures stay apart from the validation ones."""

    accuracy: float | None = None
    macro_f1: float | None = None
    count: int = 0  # test images the model scored
    share: float | None = None  # the project's test share when the run was made


class RunMetrics(_Stored):
    accuracy: float | None = None
    macro_f1: float | None = None
    per_class: dict[str, ClassMetrics] = {}  # by class name
    # Rows: the true class; columns: the predicted class; both in the run's class order.
    confusion_matrix: list[list[int]] = []
    labels: list[str] = []  # class names in the run's class order
    history: list[EpochMetrics] | None = None  # fine-tuning only
    best_epoch: int | None = None  # fine-tuning only: the epoch whose weights were kept
    test: SplitScores | None = None  # only when the project keeps a test split

    @field_validator("history", mode="before")
    @classmethod
    def _epochs_only(cls, value: Any, info: ValidationInfo) -> Any:
        # A stray entry costs its own row of the table, not the whole history.
        if _is_lenient(info) and isinstance(value, list):
            return [entry for entry in value if isinstance(entry, dict)]
        return value

    def stored(self) -> dict[str, Any]:
        """The JSON for the column. Figures a mode does not have are left out rather than
        stored as null, so a linear run's row has no ``history`` key (as the API shows)."""
        return self.model_dump(mode="json", exclude_none=True)


def read(stored: object) -> RunMetrics:
    """The typed metrics of a stored row: empty (every figure missing) while the run has
    none, so a reader asks for a figure and gets ``None`` rather than checking first."""
    if not isinstance(stored, dict):
        return RunMetrics()
    return RunMetrics.model_validate(stored, context=_LENIENT)
