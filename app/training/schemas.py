from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from app.projects.choices import BackboneName
from app.training.models import RunMode, RunStatus


class RunParams(BaseModel):
    """Advanced settings; each applies to one mode and is ignored by the other."""

    model_config = ConfigDict(extra="forbid")

    C: float | None = Field(None, gt=0, le=1e4, description="Linear: inverse regularisation.")
    folds: int | None = Field(None, ge=2, le=20, description="Linear: cross-validation folds.")
    epochs: int | None = Field(None, ge=1, le=200, description="Fine-tune: most epochs.")
    batch_size: int | None = Field(None, ge=1, le=512, description="Fine-tune: batch size.")
    lr: float | None = Field(None, gt=0, le=1, description="Fine-tune: the head's learning rate.")
    backbone_lr: float | None = Field(
        None, gt=0, le=1, description="Fine-tune: the backbone's learning rate."
    )
    patience: int | None = Field(
        None, ge=1, le=50, description="Fine-tune: epochs without a better validation loss."
    )
    val_fraction: float | None = Field(
        None, gt=0, lt=1, description="Fine-tune: share of labels held out for validation."
    )


HeadName = Literal["logreg", "svm", "mlp"]


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: RunMode = RunMode.linear
    level: int | None = Field(None, ge=1, le=32)
    backbone: BackboneName | None = None
    head: HeadName | None = Field(
        None,
        description="Linear mode: what learns from the embeddings (logistic regression, a "
        "calibrated linear SVM, or a small MLP); absent: logreg. Fine-tuning trains the "
        "network's own linear layer, so only logreg (or absent) is accepted there.",
    )
    params: RunParams = Field(default_factory=RunParams)

    @field_validator("head")
    @classmethod
    def _head_fits_mode(cls, head: HeadName | None, info: ValidationInfo) -> HeadName | None:
        if head not in (None, "logreg") and info.data.get("mode") is RunMode.finetune:
            raise ValueError(
                f"the {head} head is for the linear mode only: fine-tuning trains the "
                "network's own linear layer as its head. Use mode linear for this head, "
                "or leave head out (or logreg) to fine-tune."
            )
        return head


class RunCreated(BaseModel):
    id: int
    status: RunStatus
    # Set when the run could not be handed to a worker yet (the broker is down).
    message: str | None = None


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    status: RunStatus
    phase: str
    progress: float
    eta_seconds: int | None
    mode: RunMode
    level: int | None
    backbone: str
    head: str
    trigger: str
    params: dict[str, Any]
    device: str | None
    label_count: int | None
    classes: list[Any] | None
    metrics: dict[str, Any] | None
    report: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class PredictionOut(BaseModel):
    image_id: int
    category_id: int = Field(description="The predicted class: a category at the run's level.")
    confidence: float = Field(description="The predicted class's probability, 0..1.")
    uncertainty: float = Field(
        description="Entropy of the class probabilities over log(number of classes): "
        "0 when the model is sure, 1 when every class is equally likely."
    )


class PredictionsOut(BaseModel):
    items: list[PredictionOut]
    total: int = Field(description="How many predictions match the filters, all pages.")
    run_id: int | None = Field(
        description="The run the predictions come from; null when the project has no run "
        "that succeeded yet (and the list is empty)."
    )


class CellImage(BaseModel):
    id: int
    filename: str
    thumbnail_url: str


ExportFormat = Literal["onnx", "onnx-int8", "pt2", "torchscript"]
