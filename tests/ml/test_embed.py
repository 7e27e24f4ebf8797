"""embed_files on real photos and broken files, with the real offline backbone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tests.ml.conftest import CPU, flowers
from workers.ml.backbones import BACKBONES, DEFAULT_BACKBONE
from workers.ml.embed import EmbedResult, Stopped, embed_files
from workers.ml.images import load_for_model
from workers.ml.linear import fit_linear, predict
from workers.ml.metrics import classification_metrics

SPEC = BACKBONES[DEFAULT_BACKBONE]


@pytest.fixture(scope="module")
def photos() -> list[Path]:
    return [path for path, _ in flowers("train", 2, classes=6)]


@pytest.fixture(scope="module")
def mixed(photos: list[Path], odd_images: dict[str, Path]) -> list[Path]:
    """Good photos with a corrupt, a truncated and a missing file among them."""
    return [
        photos[0],
        odd_images["corrupt"],
        photos[1],
        odd_images["rgba_png"],
        odd_images["truncated_jpg"],
        odd_images["gray16_png"],
        *photos[2:6],
        odd_images["missing"],
        odd_images["cmyk_jpg"],
    ]


@pytest.fixture(scope="module")
def mixed_result(mixed: list[Path], onnx_cache: Path) -> EmbedResult:
    return embed_files(mixed, device=CPU, batch_size=4, cache_dir=onnx_cache)


def test_bad_files_are_reported_and_the_rest_embedded(
    mixed: list[Path], mixed_result: EmbedResult
) -> None:
    assert sorted(mixed_result.errors) == [1, 4, 10]
    assert "not an image" in mixed_result.errors[1]
    assert "truncated" in mixed_result.errors[4]
    assert "not found" in mixed_result.errors[10]
    assert mixed_result.ok == [0, 2, 3, 5, 6, 7, 8, 9, 11]
    assert mixed_result.vectors.dtype == np.float16
    assert mixed_result.vectors.shape == (9, SPEC.dim)
    assert np.isfinite(mixed_result.vectors).all()


def test_rows_follow_the_input_order(
    mixed: list[Path], mixed_result: EmbedResult, lite0: nn.Module
) -> None:
    """Each row is the torch backbone's features of that very file (onnxruntime agrees
    with torch), whatever the batching and the errors around it."""
    good = [mixed[i] for i in mixed_result.ok]
    batch = torch.from_numpy(np.stack([load_for_model(p, SPEC) for p in good]))
    with torch.inference_mode():
        expected = lite0(batch).numpy()
    got = mixed_result.vectors.astype(np.float32)
    cosine = np.sum(expected * got, axis=1) / (
        np.linalg.norm(expected, axis=1) * np.linalg.norm(got, axis=1)
    )
    assert cosine.min() > 0.999
    # Rows are not interchangeable: photo 0's row is far from photo 3's features.
    assert (
        float(np.dot(expected[0], got[3])) / (np.linalg.norm(expected[0]) * np.linalg.norm(got[3]))
        < 0.99
    )


def test_torch_engine_agrees_with_onnxruntime(photos: list[Path], onnx_cache: Path) -> None:
    onnx = embed_files(photos[:4], device=CPU, cache_dir=onnx_cache).vectors
    eager = embed_files(photos[:4], device=CPU, engine="torch").vectors
    np.testing.assert_allclose(eager.astype(np.float32), onnx.astype(np.float32), atol=0.02)


def test_progress_counts_every_file(mixed: list[Path], onnx_cache: Path) -> None:
    seen: list[tuple[int, int]] = []
    embed_files(
        mixed, device=CPU, batch_size=5, cache_dir=onnx_cache,
        progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    assert seen == [(5, 12), (10, 12), (12, 12)]


def test_should_stop_raises_stopped(photos: list[Path], onnx_cache: Path) -> None:
    calls: list[int] = []

    def stop_on_second_batch() -> bool:
        calls.append(1)
        return len(calls) >= 2

    with pytest.raises(Stopped):
        embed_files(
            photos, device=CPU, batch_size=4, cache_dir=onnx_cache,
            should_stop=stop_on_second_batch,
        )  # fmt: skip
    assert len(calls) == 2


def test_nothing_to_embed(onnx_cache: Path) -> None:
    result = embed_files([], device=CPU, cache_dir=onnx_cache)
    assert result.vectors.shape == (0, SPEC.dim)
    assert (result.ok, result.errors) == ([], {})


def test_linear_probe_on_flowers12_features(onnx_cache: Path) -> None:
    """What a user checks first: a probe on the features tells the species apart
    (the full flowers12 split scores about 0.96; this is 10 photos per species)."""
    train = flowers("train", 10)
    test = flowers("test", 5)
    x_train = embed_files([p for p, _ in train], device=CPU, cache_dir=onnx_cache).vectors
    x_test = embed_files([p for p, _ in test], device=CPU, cache_dir=onnx_cache).vectors
    names = sorted({s for _, s in train})
    y_train = np.array([names.index(s) for _, s in train])
    y_test = np.array([names.index(s) for _, s in test])
    model = fit_linear(x_train, y_train)
    metrics = classification_metrics(
        y_test.tolist(), predict(model, x_test).tolist(), list(range(len(names))), names
    )
    assert len(names) == 12
    assert metrics["accuracy"] >= 0.8, metrics
