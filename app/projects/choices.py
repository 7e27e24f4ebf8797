"""The names the web accepts for backbones and strategies.

The web never imports ``workers.ml`` (it would pull in torch), so the names are
repeated here; a test checks they match the workers' registries.
"""

from __future__ import annotations

from typing import Literal, get_args

BackboneName = Literal["efficientnet_lite0", "resnet50", "convnext_tiny", "vit_small"]
BACKBONES: tuple[str, ...] = get_args(BackboneName)
DEFAULT_BACKBONE: BackboneName = "efficientnet_lite0"
BACKBONE_LABELS = {
    "efficientnet_lite0": "EfficientNet-Lite0 (ImageNet, offline)",
    "resnet50": "ResNet-50 (torchvision, downloads its weights)",
    "convnext_tiny": "ConvNeXt-Tiny (downloads its weights)",
    "vit_small": "ViT-Small (timm, downloads its weights)",
}

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
