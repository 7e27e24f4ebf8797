"""The facts the backbone select shows (app/projects/backbone_facts.json, written by
bench/backbones.py) are the registry's own: the web cannot build a network to check."""

from __future__ import annotations

import json

import pytest

from app.projects import choices
from workers.ml.backbones import BACKBONES


def test_the_facts_file_describes_every_registry_backbone() -> None:
    stored = json.loads(choices.FACTS_FILE.read_text())
    facts = stored["backbones"]
    assert set(facts) == set(BACKBONES)
    for name, spec in BACKBONES.items():
        assert facts[name]["dim"] == spec.dim, name
        assert facts[name]["input_size"] == spec.input_size, name
        assert facts[name]["download_mb"] == spec.download_mb, name
        assert facts[name]["label"] == spec.label, name
    measured = stored["measured"]
    assert measured["batch"] == 16
    assert "random weights" in measured["how"]
    assert all(facts[name]["images_per_s"] > 0 for name in BACKBONES)


@pytest.mark.parametrize("name", ["alexnet", "inception_v3", "vgg16", "efficientnet_lite0"])
def test_a_label_gives_numbers_not_only_a_name(name: str) -> None:
    label = choices.BACKBONE_LABELS[name]
    spec = BACKBONES[name]
    assert f"{spec.dim} features" in label
    assert f"{spec.input_size} px" in label
    assert "images/s on CPU" in label
    if spec.download_mb is None:
        assert label.endswith("offline")
    else:
        assert f"downloads {spec.download_mb:.0f} MB" in label
