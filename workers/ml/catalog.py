"""Any timm or torchvision model by name: ``timm.<name>`` or ``tv.<name>``.

The worker lists the valid names (``entries``) for the web, which cannot import timm;
a named model gets its preprocessing from timm's pretrained_cfg or torchvision's
weights' transforms, its weights through the same cache and hash checks as the registry
(``workers.ml.weights``), and its feature size from the network itself.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from workers.ml.architectures import feature_dim, timm_features, torchvision_features
from workers.ml.backbones import BackboneSpec

TIMM = "timm."
TORCHVISION = "tv."
MAX_NAME = 64  # the backbone column's width
# The names must also be safe folder names (the embedding cache lives under them).
NAME_PATTERN = re.compile(r"(timm|tv)\.[a-z0-9][a-z0-9_.\-]*")


@dataclass(frozen=True)
class Entry:
    name: str  # with its prefix, as a project stores it
    source: str  # timm | torchvision
    feature_dim: int | None
    input_size: int | None
    download_mb: float | None  # None: not known without a network


def is_by_name(name: str) -> bool:
    return name.startswith((TIMM, TORCHVISION))


def entries() -> list[Entry]:
    """Every pretrained timm and torchvision classification model this worker can load;
    cheap (no model is built): feature sizes are left unknown."""
    import timm
    import torchvision.models as tv

    found: list[Entry] = []
    for arch in tv.list_models(module=tv):
        weights: Any = tv.get_model_weights(arch).DEFAULT
        size = weights.transforms().crop_size
        megabytes = weights.meta.get("_file_size")
        found.append(
            Entry(
                TORCHVISION + arch, "torchvision", None, int(size[0]) if size else None,
                float(megabytes) if megabytes is not None else None,
            )
        )  # fmt: skip
    for tagged in timm.list_models(pretrained=True):
        cfg = timm.models.get_pretrained_cfg(tagged)
        if cfg is None or not cfg.hf_hub_id:
            continue  # only weights on the Hugging Face hub are fetched (and hash-checked)
        found.append(Entry(TIMM + tagged, "timm", None, int(cfg.input_size[-1]), None))
    return [e for e in found if len(e.name) <= MAX_NAME and NAME_PATTERN.fullmatch(e.name)]


def _split(name: str) -> tuple[str, str]:
    if not (len(name) <= MAX_NAME and NAME_PATTERN.fullmatch(name)):
        raise ValueError(f"{name!r} is not a timm.<name> or tv.<name> backbone name")
    prefix, _, model = name.partition(".")
    return prefix, model


@functools.lru_cache(maxsize=32)
def spec_for(name: str) -> BackboneSpec:
    """The spec of a named model; ValueError if timm or torchvision do not know it."""
    prefix, model = _split(name)
    return _timm_spec(name, model) if prefix == "timm" else _torchvision_spec(name, model)


def _torchvision_spec(name: str, arch: str) -> BackboneSpec:
    import torchvision.models as tv

    if arch not in tv.list_models(module=tv):
        raise ValueError(f"torchvision has no classification model {arch!r} ({name})")
    weights: Any = tv.get_model_weights(arch).DEFAULT
    t = weights.transforms()
    crop, resize = int(t.crop_size[0]), int(t.resize_size[0])
    dim = _dim(lambda: torchvision_features(arch, None), crop)
    return BackboneSpec(
        name, f"{arch} (torchvision, {weights})", dim, crop, resize,
        _triple(t.mean), _triple(t.std), offline=False, source="torchvision", arch=arch,
        weights=f"{type(weights).__name__}.{weights.name}",
        download_mb=weights.meta.get("_file_size"),
        interpolation=_interpolation(getattr(t, "interpolation", "bilinear")),
    )  # fmt: skip


def _timm_spec(name: str, tagged: str) -> BackboneSpec:
    import timm

    cfg = timm.models.get_pretrained_cfg(tagged) if timm.is_model(tagged) else None
    if cfg is None or not cfg.hf_hub_id or "." not in tagged:
        raise ValueError(
            f"timm has no pretrained model {tagged!r} on the Hugging Face hub ({name}); "
            "name it with its tag, as timm.list_models(pretrained=True) does"
        )
    size = int(cfg.input_size[-1])
    # timm's eval transform: resize the shorter side to size / crop_pct, then center-crop.
    resize = math.floor(size / float(cfg.crop_pct or 1.0))
    dim = _dim(lambda: timm_features(tagged, None), size)
    return BackboneSpec(
        name, f"{tagged} (timm)", dim, size, resize, _triple(cfg.mean), _triple(cfg.std),
        offline=False, source="timm", arch=tagged, weights=cfg.hf_hub_id,
        interpolation=_interpolation(cfg.interpolation),
    )  # fmt: skip


def _interpolation(named: object) -> str:
    """timm says "bicubic"; torchvision an InterpolationMode whose value is "bicubic"."""
    text = str(getattr(named, "value", named) or "bilinear").lower()
    return "bicubic" if "bicubic" in text else "bilinear"


def _dim(make: Any, size: int) -> int:
    """Built on the meta device (no memory, no time), where the network allows it."""
    try:
        with torch.device("meta"):
            model: nn.Module = make()
            out = model.eval()(torch.empty(1, 3, size, size))
        return int(out.shape[-1])
    except Exception:  # some initialisers need real data: build it for real, once
        return feature_dim(make(), size)


def _triple(values: Any) -> tuple[float, float, float]:
    a, b, c = (float(v) for v in values)
    return (a, b, c)
