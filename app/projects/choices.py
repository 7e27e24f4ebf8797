"""The names the web accepts for backbones and strategies.

The web never imports ``workers.ml`` (it would pull in torch), so the names are
repeated here; a test checks they match the workers' registries.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, StringConstraints

BuiltinBackbone = Literal[
    "efficientnet_lite0",
    "resnet50",
    "convnext_tiny",
    "vit_small",
    "alexnet",
    "googlenet",
    "inception_v3",
    "vgg16",
    "mobilenet_v3_large",
    "efficientnet_b0",
    "dinov2_small",
]
BACKBONES: tuple[str, ...] = get_args(BuiltinBackbone)
DEFAULT_BACKBONE = "efficientnet_lite0"
# A built-in name, or any timm / torchvision model by name ("timm.resnet18.a1_in1k",
# "tv.resnet18"); the names are folder names too (the embedding cache), hence the
# characters. Whether a by-name model exists is checked against what workers publish.
BACKBONE_PATTERN = r"^(?:[a-z0-9_]{1,64}|(?:timm|tv)\.[a-z0-9][a-z0-9_.\-]{0,60})$"
BackboneName = Annotated[
    str,
    StringConstraints(max_length=64, pattern=BACKBONE_PATTERN),
    Field(
        description="A built-in backbone (" + ", ".join(BACKBONES) + "), or any timm or "
        "torchvision model by name as `timm.<name>` or `tv.<name>` (the names the workers "
        "publish: timm.list_models(pretrained=True), torchvision.models.list_models()).",
        examples=[DEFAULT_BACKBONE, "timm.resnet18.a1_in1k", "tv.resnet18"],
    ),
]

# Measured by bench/backbones.py and committed with the release: the web cannot build
# a network to find out.
FACTS_FILE = Path(__file__).with_name("backbone_facts.json")
BACKBONE_FACTS: dict[str, dict[str, Any]] = json.loads(FACTS_FILE.read_text())["backbones"]


def backbone_label(name: str) -> str:
    """What a user chooses on: the network, then its numbers."""
    facts = BACKBONE_FACTS.get(name)
    if facts is None:
        return name
    parts = [f"{facts['dim']} features", f"{facts['input_size']} px"]
    if facts.get("images_per_s") is not None:
        parts.append(f"{facts['images_per_s']:.0f} images/s on CPU")
    mb = facts.get("download_mb")
    parts.append("offline" if mb is None else f"downloads {mb:.0f} MB")
    return f"{facts['label']}: " + ", ".join(parts)


BACKBONE_LABELS = {name: backbone_label(name) for name in BACKBONES}

StrategyName = Literal[
    "default",
    "random",
    "least_confidence",
    "margin",
    "entropy",
    "kmeans",
    "typiclust",
    "cluster_margin",
    "kcenter",
]
STRATEGIES: tuple[str, ...] = get_args(StrategyName)
DEFAULT_STRATEGY: StrategyName = "default"
