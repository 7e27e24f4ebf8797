"""Fine-tuning: one real (short) run of the pretrained backbone on the CPU, and the
early-stopping bookkeeping checked on a tiny stand-in backbone with scripted losses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tests.ml.conftest import CPU, flowers
from workers.ml import finetune as finetune_module
from workers.ml.backbones import BACKBONES, DEFAULT_BACKBONE
from workers.ml.embed import Stopped
from workers.ml.finetune import (
    FinetuneConfig,
    FinetuneResult,
    finetune,
    one_cycle,
    predict_files,
)
from workers.ml.split import stratified_split

SPEC = BACKBONES[DEFAULT_BACKBONE]


def labeled(per_class: int, classes: int = 3) -> tuple[list[Path], np.ndarray]:
    """Photos of ``classes`` species, labeled with sparse ids (as category ids are)."""
    data = flowers("train", per_class, classes=classes)
    names = sorted({s for _, s in data})
    return [p for p, _ in data], np.array([100 + 7 * names.index(s) for _, s in data])


@pytest.fixture(scope="module")
def real_run() -> tuple[FinetuneResult, list[Path], np.ndarray, list[float]]:
    paths, y = labeled(3)
    seen: list[float] = []
    config = FinetuneConfig(epochs=1, batch_size=3, val_fraction=0.34, decode_workers=2)
    result = finetune(paths, y, device=CPU, config=config, progress=seen.append)
    return result, paths, y, seen


def test_a_real_run_returns_a_usable_classifier(
    real_run: tuple[FinetuneResult, list[Path], np.ndarray, list[float]],
) -> None:
    result, paths, y, progress = real_run
    assert result.classes.tolist() == [100, 107, 114]
    assert len(result.val_index) == 3  # one validation photo per species
    assert sorted(y[result.val_index].tolist()) == [100, 107, 114]
    assert set(result.val_pred.tolist()) <= {100, 107, 114}
    assert result.best_epoch == 1
    assert [set(h) for h in result.history] == [
        {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"}
    ]
    assert np.isfinite(result.history[0]["train_loss"])
    # Six training photos: the running accuracy over them is a multiple of 1/6.
    assert round(result.history[0]["train_accuracy"] * 6, 6) in {0, 1, 2, 3, 4, 5, 6}
    assert result.augmentation.startswith("a random crop of 35% to 100%")
    assert not result.model.training
    assert progress == sorted(progress)
    assert progress[-1] == 1.0

    probs, errors = predict_files(
        result.model, [paths[i] for i in result.val_index], SPEC, device=CPU, batch_size=2
    )
    assert errors == {}
    assert probs.dtype == np.float32
    assert probs.shape == (3, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # The returned model is the one whose validation predictions were reported.
    assert result.classes[probs.argmax(axis=1)].tolist() == result.val_pred.tolist()


def test_predict_files_reports_unreadable_files(
    real_run: tuple[FinetuneResult, list[Path], np.ndarray, list[float]],
    odd_images: dict[str, Path],
) -> None:
    result, paths, _, _ = real_run
    probs, errors = predict_files(result.model, [odd_images["corrupt"], paths[0]], SPEC, device=CPU)
    assert list(errors) == [0]
    assert "not an image" in errors[0]
    assert probs.shape == (1, 3)
    nothing, errors = predict_files(result.model, [odd_images["missing"]], SPEC, device=CPU)
    assert nothing.shape == (0, 3)


class TinyBackbone(nn.Module):
    """A stand-in with the real one's output width, so a run takes a second, not minutes."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.bn = nn.BatchNorm2d(3)
        self.proj = nn.Linear(48, SPEC.dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        projected: torch.Tensor = self.proj(self.pool(self.bn(images)).flatten(1))
        return projected


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(finetune_module, "load_backbone", lambda *a, **k: TinyBackbone())


def test_early_stopping_keeps_the_best_epoch(tiny: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation losses are scripted: best at epoch 2, then two epochs without
    improvement with patience 2 -> stop after epoch 4, weights of epoch 2."""
    script = iter([0.9, 0.5, 0.6, 0.55, 0.1, 0.1])
    snapshots: list[dict[str, torch.Tensor]] = []
    real_evaluate = finetune_module._evaluate

    def scripted(run: finetune_module._Run, *args: object) -> tuple[float, np.ndarray]:
        _, predicted = real_evaluate(run, *args)  # type: ignore[arg-type]
        snapshots.append({k: v.clone() for k, v in run.model.state_dict().items()})
        return next(script), predicted

    monkeypatch.setattr(finetune_module, "_evaluate", scripted)
    paths, y = labeled(4)
    config = FinetuneConfig(epochs=6, batch_size=4, patience=2, val_fraction=0.25, lr=0.05)
    result = finetune(paths, y, device=CPU, config=config)
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4]
    assert [h["val_loss"] for h in result.history] == [0.9, 0.5, 0.6, 0.55]
    assert result.best_epoch == 2
    final = result.model.state_dict()
    assert all(torch.equal(final[k], snapshots[1][k]) for k in final)
    assert not all(torch.equal(final[k], snapshots[3][k]) for k in final)


def test_batchnorm_statistics_stay_frozen_while_training(tiny: None) -> None:
    paths, y = labeled(4)
    result = finetune(
        paths, y, device=CPU, config=FinetuneConfig(epochs=1, batch_size=4, val_fraction=0.25)
    )
    bn = result.model.backbone.bn
    assert torch.equal(bn.running_mean, torch.zeros(3))
    assert torch.equal(bn.running_var, torch.ones(3))
    assert bn.weight.grad is not None  # the affine part still learned


def test_should_stop_stops_at_the_next_batch(tiny: None) -> None:
    paths, y = labeled(4)
    with pytest.raises(Stopped):
        finetune(
            paths, y, device=CPU, config=FinetuneConfig(batch_size=2), should_stop=lambda: True
        )


def test_unreadable_training_images_are_skipped_and_reported(
    tiny: None, odd_images: dict[str, Path]
) -> None:
    paths, y = labeled(4)
    paths = [*paths, odd_images["corrupt"]]
    y = np.append(y, y[0])
    result = finetune(
        paths, y, device=CPU, config=FinetuneConfig(epochs=1, batch_size=4, val_fraction=0.25)
    )
    assert list(result.errors) == [len(paths) - 1]
    assert len(paths) - 1 not in result.val_index.tolist()


def test_one_class_cannot_be_fine_tuned(tiny: None) -> None:
    paths, _ = labeled(2)
    with pytest.raises(ValueError, match="at least 2 classes"):
        finetune(paths, np.zeros(len(paths)), device=CPU)


def test_the_split_is_stratified_and_spares_tiny_classes() -> None:
    targets = np.array([0] * 10 + [1] * 5 + [2] * 2 + [3])
    train, val = stratified_split(targets, 0.2, np.random.default_rng(0))
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(len(targets)))
    assert np.bincount(targets[val], minlength=4).tolist() == [2, 1, 1, 0]
    with pytest.raises(ValueError, match="at least 2 images"):
        stratified_split(np.array([0, 1, 2]), 0.2, np.random.default_rng(0))


@pytest.mark.parametrize("steps", range(1, 41))
def test_the_schedule_works_for_runs_of_any_length(steps: int) -> None:
    """24 photos at one batch an epoch make a 10-step run: OneCycleLR's warm-up then had
    zero length and the run died with ZeroDivisionError before its first batch."""
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([{"params": [weight], "lr": 1e-3}])
    schedule = one_cycle(optimizer, [1e-3], steps)
    used = []  # the rate each batch trains with
    for _ in range(steps):
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert all(0 < r <= 1e-3 for r in used)
    if steps >= 3:  # a warm-up up to the full rate, then the decay
        assert max(used) == pytest.approx(1e-3, rel=0.05)
        assert used[-1] < max(used)
