"""The thorough training mode: fine-tune the whole backbone plus a new head on the images.

A stratified hold-out split measures every epoch; training stops when the validation
loss has not improved for ``patience`` epochs, and the best epoch's weights are the
ones returned. On CUDA it runs in mixed precision, on the CPU in
float32 (the only path this project's machines can test).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn

from workers.ml.augment_words import describe_augmentation
from workers.ml.backbones import DEFAULT_BACKBONE, BackboneSpec, get_spec, load_backbone
from workers.ml.batches import Batch, iterate_batches
from workers.ml.classifier import (
    Classifier,
    predict_files,
    train_mode,
    training_loader,
    training_transforms,
)
from workers.ml.device import autocast, autocast_dtype
from workers.ml.embed import Stopped
from workers.ml.images import load_for_model
from workers.ml.split import stratified_split

__all__ = [
    "FinetuneConfig",
    "FinetuneResult",
    "describe_augmentation",
    "finetune",
    "predict_files",
]


@dataclass
class FinetuneConfig:
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3  # the new head
    backbone_lr: float = 1e-4  # the pretrained layers: smaller, so they adapt, not forget
    weight_decay: float = 1e-4
    patience: int = 3  # epochs without a better validation loss before stopping
    val_fraction: float = 0.2
    seed: int = 0
    decode_workers: int = 2


@dataclass
class FinetuneResult:
    model: nn.Module  # backbone + head, eval mode, images -> logits over ``classes``
    classes: npt.NDArray[np.int64]  # the label values, sorted; the logits' order
    val_index: npt.NDArray[np.int64]  # positions in the input of the validation images
    val_pred: npt.NDArray[np.int64]  # the best epoch's predicted label for each of them
    best_epoch: int  # 1-based
    # Per epoch: epoch, train_loss, train_accuracy, val_loss, val_accuracy. The training
    # figures are the running mean over that epoch's augmented batches, as trained on.
    history: list[dict[str, float]]
    errors: dict[int, str] = field(default_factory=dict)  # unreadable inputs, skipped
    augmentation: str = ""  # the training images' random transforms, in words


def one_cycle(
    optimizer: torch.optim.Optimizer, max_lr: list[float], steps: int
) -> torch.optim.lr_scheduler.OneCycleLR:
    """Warm up for the first tenth, then cosine decay: the new head's first, large
    gradients do not wreck the pretrained features.

    OneCycleLR divides by its warm-up's length in steps minus one, so a run of exactly
    10 steps (24 images, one batch an epoch) died with ZeroDivisionError: the warm-up
    takes at least 2 steps, or none at all on the shortest runs.
    """
    steps = max(1, steps)
    warmup = 0.1 if steps <= 2 else max(0.1, 2 / steps)
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=max_lr,
        total_steps=steps,
        pct_start=warmup,
        anneal_strategy="cos",
        cycle_momentum=False,
    )


class _Run:
    """The state of one fine-tuning run, so each step stays a short method."""

    def __init__(
        self,
        model: Classifier,
        device: torch.device,
        config: FinetuneConfig,
        train_steps: int,
        units: int,
        progress: Callable[[float], None] | None,
        should_stop: Callable[[], bool] | None,
    ) -> None:
        self.model, self.device, self.config = model, device, config
        backbone = list(model.backbone.parameters())
        head = list(model.head.parameters())
        self.optimizer = torch.optim.AdamW(
            [{"params": backbone, "lr": config.backbone_lr}, {"params": head, "lr": config.lr}],
            weight_decay=config.weight_decay,
        )
        self.scheduler = one_cycle(self.optimizer, [config.backbone_lr, config.lr], train_steps)
        # Loss scaling only matters for float16; bfloat16 has float32's range.
        self.scaler = torch.amp.GradScaler("cuda", enabled=autocast_dtype(device) == torch.float16)
        self.units, self.done = max(1, units), 0  # progress: train and validation batches
        self.progress, self.should_stop = progress, should_stop

    def tensor(self, batch: Batch) -> torch.Tensor:
        images = torch.from_numpy(batch.images)
        if self.device.type == "cuda":
            images = images.pin_memory().to(self.device, non_blocking=True)
        return images.contiguous(memory_format=torch.channels_last)

    def tick(self) -> None:
        if self.should_stop is not None and self.should_stop():
            raise Stopped("fine-tuning was stopped")
        self.done += 1
        if self.progress is not None:
            self.progress(min(1.0, self.done / self.units))

    def train_step(self, batch: Batch, targets: torch.Tensor) -> tuple[float, int]:
        """One optimiser step: the batch's mean loss and how many it got right."""
        with autocast(self.device):
            logits = self.model(self.tensor(batch))
        loss = F.cross_entropy(logits.float(), targets)
        correct = int((logits.detach().argmax(dim=1) == targets).sum())
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.scheduler.last_epoch + 1 < self.scheduler.total_steps:
            self.scheduler.step()
        self.tick()
        return float(loss.detach()), correct

    def logits(self, batch: Batch) -> torch.Tensor:
        with torch.inference_mode(), autocast(self.device):
            logits: torch.Tensor = self.model(self.tensor(batch))
        return logits.float()


def finetune(
    paths: Sequence[Path],
    y: npt.ArrayLike,
    backbone: str = DEFAULT_BACKBONE,
    *,
    device: torch.device,
    config: FinetuneConfig = FinetuneConfig(),
    allow_download: bool = False,
    progress: Callable[[float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> FinetuneResult:
    """Fine-tune ``backbone`` plus a linear head on ``paths`` labeled ``y``.

    ``progress(fraction)`` follows the planned steps (a run that stops early jumps to
    1.0); ``should_stop()`` is polled every batch and raises ``Stopped``.
    """
    labels = np.asarray(y)
    if len(labels) != len(paths):
        raise ValueError(f"{len(paths)} images but {len(labels)} labels")
    classes, targets = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"fine-tuning needs at least 2 classes, got {len(classes)}")
    spec = get_spec(backbone)
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    train_index, val_index = stratified_split(targets, config.val_fraction, rng)
    model = Classifier(
        load_backbone(backbone, device, allow_download=allow_download), spec.dim, len(classes)
    ).to(device)
    # channels_last: faster convolutions on CUDA, and measured faster on the CPU too.
    model = model.to(memory_format=torch.channels_last)
    per_epoch = math.ceil(len(train_index) / config.batch_size)
    val_steps = math.ceil(len(val_index) / config.batch_size)
    run = _Run(
        model, device, config, config.epochs * per_epoch,
        config.epochs * (per_epoch + val_steps), progress, should_stop,
    )  # fmt: skip
    augment = training_loader(spec)
    errors: dict[int, str] = {}
    history: list[dict[str, float]] = []
    best: tuple[float, int, dict[str, torch.Tensor], npt.NDArray[np.int64]] | None = None
    for epoch in range(1, config.epochs + 1):
        order = rng.permutation(train_index)
        train_loss, train_accuracy = _train_epoch(
            run, [paths[i] for i in order], order, targets, augment, errors
        )
        val_loss, val_pred = _evaluate(
            run, [paths[i] for i in val_index], val_index, targets, spec, errors
        )
        readable = val_pred >= 0
        accuracy = (
            float(np.mean(val_pred[readable] == targets[val_index][readable]))
            if readable.any()
            else 0.0
        )
        history.append(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "train_accuracy": train_accuracy,
                "val_loss": val_loss,
                "val_accuracy": accuracy,
            }
        )
        if best is None or val_loss < best[0]:
            state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            best = (val_loss, epoch, state, val_pred)
        elif epoch - best[1] >= config.patience:
            break
    if best is None:
        raise ValueError("config.epochs must be at least 1")
    readable = best[3] >= 0  # unreadable validation images were never predicted
    model.load_state_dict(best[2])
    model.eval()
    if progress is not None:
        progress(1.0)
    return FinetuneResult(
        model=model,
        classes=classes,
        val_index=np.asarray(val_index[readable], dtype=np.int64),
        val_pred=classes[best[3][readable]],
        best_epoch=best[1],
        history=history,
        errors=errors,
        augmentation=describe_augmentation(training_transforms(spec)),
    )


def _train_epoch(
    run: _Run,
    paths: list[Path],
    order: npt.NDArray[np.int64],
    targets: npt.NDArray[np.int64],
    augment: Callable[[Path], npt.NDArray[np.float32]],
    errors: dict[int, str],
) -> tuple[float, float]:
    """The epoch's mean training loss and accuracy, over the images it trained on."""
    train_mode(run.model)
    total, right, count = 0.0, 0, 0
    batches = iterate_batches(
        paths, augment, batch_size=run.config.batch_size, workers=run.config.decode_workers
    )
    try:
        for batch in batches:
            errors.update({int(order[i]): reason for i, reason in batch.errors.items()})
            if not batch.indices:
                continue
            labels = torch.from_numpy(targets[order[batch.indices]]).to(run.device)
            loss, correct = run.train_step(batch, labels)
            total += loss * len(batch.indices)
            right += correct
            count += len(batch.indices)
    finally:
        batches.close()
    if count == 0:
        raise ValueError("none of the training images could be read")
    return total / count, right / count


def _evaluate(
    run: _Run,
    paths: list[Path],
    index: npt.NDArray[np.int64],
    targets: npt.NDArray[np.int64],
    spec: BackboneSpec,
    errors: dict[int, str],
) -> tuple[float, npt.NDArray[np.int64]]:
    """Mean validation loss and the predicted class of every validation image (an
    unreadable one counts as wrong: predicted -1)."""
    run.model.eval()
    predicted = np.full(len(index), -1, dtype=np.int64)
    total, count = 0.0, 0
    batches = iterate_batches(
        paths, lambda p: load_for_model(p, spec), batch_size=run.config.batch_size,
        workers=run.config.decode_workers,
    )  # fmt: skip
    try:
        for batch in batches:
            errors.update({int(index[i]): reason for i, reason in batch.errors.items()})
            if batch.indices:
                logits = run.logits(batch)
                labels = torch.from_numpy(targets[index[batch.indices]]).to(run.device)
                total += float(F.cross_entropy(logits, labels, reduction="sum"))
                count += len(batch.indices)
                predicted[batch.indices] = logits.argmax(dim=1).cpu().numpy()
            run.tick()
    finally:
        batches.close()
    return (total / count if count else float("inf")), predicted
