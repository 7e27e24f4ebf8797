"""The web's names for backbones and strategies are the workers' (the web cannot import them)."""

from __future__ import annotations

from app.projects import choices
from workers.ml import backbones, strategies


def test_backbones_match_the_workers_registry() -> None:
    assert set(choices.BACKBONES) == set(backbones.BACKBONES)
    assert choices.DEFAULT_BACKBONE == backbones.DEFAULT_BACKBONE
    assert set(choices.BACKBONE_LABELS) == set(choices.BACKBONES)


def test_strategies_match_the_workers_registry() -> None:
    assert set(choices.STRATEGIES) == set(strategies.STRATEGIES)
    assert choices.DEFAULT_STRATEGY == strategies.DEFAULT_STRATEGY
