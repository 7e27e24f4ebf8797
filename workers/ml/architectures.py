"""Networks cut to feature extractors: images (N, 3, H, W) -> pooled features (N, dim).

The classifier goes, the pooled representation under it stays: for AlexNet and VGG the
penultimate 4096-d fully connected layer (with its ReLU), the classic "fc7" features;
for GoogLeNet and Inception-V3 the pooled features without the auxiliary heads.
``state`` None builds random weights (tests, benches); otherwise the pretrained state
dict is loaded strictly, so a mismatched file fails loudly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

State = dict[str, torch.Tensor]


def _classic(arch: str, state: State | None) -> nn.Module:
    import torchvision.models as tv

    model: Any
    if arch in ("googlenet", "inception_v3"):
        # Pretrained weights were trained with the auxiliary heads and expect
        # transform_input (they are ports from TensorFlow's [-1, 1] inputs): build them as
        # torchvision does for its weights, load, then drop the auxiliary heads.
        model = tv.get_model(
            arch, weights=None, aux_logits=True, transform_input=True, init_weights=False
        )
        if state is not None:
            model.load_state_dict(state)
        model.aux_logits = False
        if arch == "googlenet":
            model.aux1 = model.aux2 = None
        else:
            model.AuxLogits = None
        model.fc = nn.Identity()
        return cast(nn.Module, model)
    model = tv.get_model(arch, weights=None)
    if state is not None:
        model.load_state_dict(state)
    _CUTS[arch](model)
    return cast(nn.Module, model)


def _drop(attr: str, index: int | None = None) -> Callable[[Any], None]:
    def cut(model: Any) -> None:
        if index is None:
            setattr(model, attr, nn.Identity())
        else:
            getattr(model, attr)[index] = nn.Identity()

    return cut


_CUTS: dict[str, Callable[[Any], None]] = {
    "alexnet": _drop("classifier", 6),  # keeps fc7 + ReLU: 4096
    "vgg16": _drop("classifier", 6),  # keeps fc7 + ReLU: 4096
    "mobilenet_v3_large": _drop("classifier", 3),  # keeps the 1280-d hidden layer
    "efficientnet_b0": _drop("classifier", 1),
    "resnet50": _drop("fc"),
    # ConvNeXt keeps the head's LayerNorm and flatten: part of the pooled representation.
    "convnext_tiny": _drop("classifier", 2),
}
CLASSICS = frozenset((*_CUTS, "googlenet", "inception_v3"))


def torchvision_features(arch: str, state: State | None) -> nn.Module:
    """A torchvision classification model without its classifier."""
    if arch in CLASSICS:
        return _classic(arch, state)
    import torchvision.models as tv

    model = tv.get_model(arch, weights=None)
    if state is not None:
        model.load_state_dict(state)
    _drop_last_linear(model, arch)
    return cast(nn.Module, model)


def _drop_last_linear(model: nn.Module, arch: str) -> None:
    """Any other torchvision classifier: its last Linear layer is the classifier."""
    last = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = name
    if last is None:
        raise ValueError(f"torchvision's {arch} has no linear classifier to remove")
    parent_name, _, child = last.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, nn.Identity())  # also right for a Sequential's "6"


def timm_features(arch: str, weights: Path | None, **kwargs: Any) -> nn.Module:
    """A timm model with ``num_classes=0`` (its pooled features). Weights load through
    timm's own path for a local file, so its checkpoint filter runs: it resizes a ViT's
    position embedding to ``img_size`` (DINOv2 is trained at 518 px, used here at 224)."""
    import timm

    if weights is None:
        model = timm.create_model(arch, pretrained=False, num_classes=0, **kwargs)
    else:
        model = timm.create_model(
            arch,
            pretrained=True,
            num_classes=0,
            # source "" and custom_load False: load this file and nothing else, as a plain
            # state dict, never a URL or the hub.
            pretrained_cfg_overlay={"file": str(weights), "source": "", "custom_load": False},
            **kwargs,
        )
    return model


def feature_dim(model: nn.Module, input_size: int) -> int:
    """The length of the pooled features, by a forward pass on one random image."""
    with torch.inference_mode():
        out = model.eval()(torch.zeros(1, 3, input_size, input_size))
    return int(out.shape[-1])
