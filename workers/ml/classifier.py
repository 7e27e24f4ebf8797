"""The fine-tuned classifier: backbone plus a linear head, its training inputs, and
running it over image files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from torchvision import transforms

from workers.ml.backbones import BackboneSpec
from workers.ml.batches import default_workers, iterate_batches
from workers.ml.device import autocast
from workers.ml.images import load_for_model, normalize, open_rgb


class Classifier(nn.Module):
    def __init__(self, backbone: nn.Module, dim: int, classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(dim, classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.head(self.dropout(self.backbone(images)))
        return logits


def train_mode(model: Classifier) -> None:
    model.train()
    # BatchNorm keeps its ImageNet statistics: small batches of a small set give noisy
    # batch statistics that would overwrite them (the affine weights still train).
    for module in model.backbone.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def training_transforms(spec: BackboneSpec) -> transforms.Compose:
    """The random transforms of a training image (random scale and aspect, flip, mild
    colour jitter): enough variety to fight over-fitting on a few hundred labels, nothing
    that changes what the photo shows. A run describes them in words from this object."""
    return transforms.Compose(
        [
            transforms.RandomResizedCrop(spec.input_size, scale=(0.35, 1.0)),
            transforms.RandomHorizontalFlip(),
            transforms.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02),
        ]
    )


def training_loader(spec: BackboneSpec) -> Callable[[Path], npt.NDArray[np.float32]]:
    """Path -> an augmented crop (``training_transforms``), normalised for the model."""
    pipeline = training_transforms(spec)

    def load(path: Path) -> npt.NDArray[np.float32]:
        image = pipeline(open_rgb(path, spec.resize))
        return normalize(np.asarray(image, dtype=np.uint8), spec)

    return load


def predict_files(
    model: nn.Module,
    paths: Sequence[Path],
    spec: BackboneSpec,
    *,
    device: torch.device,
    batch_size: int = 64,
    decode_workers: int | None = None,
) -> tuple[npt.NDArray[np.float32], dict[int, str]]:
    """Softmax probabilities (one row per readable file, in input order) and the errors."""
    model.eval()
    rows: list[npt.NDArray[np.float32]] = []
    errors: dict[int, str] = {}
    batches = iterate_batches(
        paths,
        lambda p: load_for_model(p, spec),
        batch_size=batch_size,
        workers=decode_workers or default_workers(device.type),
    )
    try:
        for batch in batches:
            errors.update(batch.errors)
            if not batch.indices:
                continue
            images = torch.from_numpy(batch.images).to(device)
            images = images.contiguous(memory_format=torch.channels_last)
            with torch.inference_mode(), autocast(device):
                probs = torch.softmax(model(images).float(), dim=1)
            rows.append(probs.cpu().numpy().astype(np.float32))
    finally:
        batches.close()
    if not rows:
        return np.zeros((0, _output_width(model, spec, device)), dtype=np.float32), errors
    return np.concatenate(rows), errors


def _output_width(model: nn.Module, spec: BackboneSpec, device: torch.device) -> int:
    """How many classes ``model`` scores: asked of the model itself, on one blank image."""
    blank = torch.zeros(1, 3, spec.input_size, spec.input_size, device=device)
    with torch.inference_mode():
        return int(model(blank).shape[1])
