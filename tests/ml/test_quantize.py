"""int8 models: the real Lite0 probe exported to ONNX, statically quantized on a few
flowers12 training photos, then run in onnxruntime as a user would, on test photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from tests.ml.conftest import CPU, flowers
from workers.ml.backbones import BACKBONES, DEFAULT_BACKBONE
from workers.ml.embed import embed_files
from workers.ml.export import export_onnx, linear_classifier
from workers.ml.images import load_for_model
from workers.ml.linear import fit_linear
from workers.ml.quantize import Verdict, judge, quantize_int8

SPEC = BACKBONES[DEFAULT_BACKBONE]
CLASSES = 3


@pytest.fixture(scope="module")
def train() -> list[tuple[Path, int]]:
    species = [p for p, _ in flowers("train", 8, classes=CLASSES)]
    return [(p, n // 8) for n, p in enumerate(species)]


@pytest.fixture(scope="module")
def test_images() -> tuple[np.ndarray, np.ndarray]:
    photos = flowers("test", 4, classes=CLASSES)
    names = sorted({s for _, s in photos})
    images = np.stack([load_for_model(p, SPEC) for p, _ in photos])
    return images, np.array([names.index(s) for _, s in photos])


@pytest.fixture(scope="module")
def models(
    train: list[tuple[Path, int]], onnx_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    paths = [p for p, _ in train]
    vectors = embed_files(paths, device=CPU, cache_dir=onnx_cache).vectors
    probe = fit_linear(vectors, np.array([c for _, c in train]))
    folder = tmp_path_factory.mktemp("int8")
    export_onnx(linear_classifier(DEFAULT_BACKBONE, probe, device=CPU), folder / "model.onnx", SPEC)
    calibration = np.stack([load_for_model(p, SPEC) for p in paths])
    quantize_int8(folder / "model.onnx", folder / "model_int8.onnx", calibration)
    return folder / "model.onnx", folder / "model_int8.onnx"


def _run(path: Path, images: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"image": images})[0])


def test_int8_runs_in_onnxruntime_like_the_float_model(
    models: tuple[Path, Path], test_images: tuple[np.ndarray, np.ndarray]
) -> None:
    float_path, int8_path = models
    as_float = ort.InferenceSession(str(float_path), providers=["CPUExecutionProvider"])
    as_int8 = ort.InferenceSession(str(int8_path), providers=["CPUExecutionProvider"])
    for a, b in ((as_float.get_inputs(), as_int8.get_inputs()),
                 (as_float.get_outputs(), as_int8.get_outputs())):  # fmt: skip
        assert [(i.name, i.shape, i.type) for i in a] == [(i.name, i.shape, i.type) for i in b]
    images, truth = test_images
    probs_float, probs_int8 = _run(float_path, images), _run(int8_path, images)
    assert probs_int8.shape == (len(images), CLASSES)
    np.testing.assert_allclose(probs_int8.sum(axis=1), 1.0, atol=1e-3)
    agree = (probs_float.argmax(axis=1) == probs_int8.argmax(axis=1)).mean()
    assert agree >= 10 / 12, agree
    assert (probs_int8.argmax(axis=1) == truth).mean() >= 0.75
    # Weights as int8: about a quarter of the float file.
    assert int8_path.stat().st_size <= float_path.stat().st_size / 3
    # Quantized operators, not a float copy under a new name.
    ops = {n.op_type for n in onnx.load(str(int8_path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops


def test_judge_measures_both_models_on_the_same_labeled_images(
    models: tuple[Path, Path], test_images: tuple[np.ndarray, np.ndarray]
) -> None:
    images, truth = test_images
    verdict = judge(*models, images, truth.tolist())
    assert verdict.images == len(truth)
    top = _run(models[0], images).argmax(axis=1)
    assert verdict.float_accuracy == pytest.approx(float((top == truth).mean()))
    strict = judge(*models, images, truth.tolist(), max_drop=-1.0)
    assert not strict.passed  # no int8 model is 100 points better than float
    assert "more than the -100 allowed" in strict.reason()


@pytest.mark.parametrize(
    ("float_accuracy", "int8_accuracy", "passed"),
    [(0.95, 0.95, True), (0.95, 0.94, True), (0.95, 0.9399, False), (0.90, 0.93, True)],
)
def test_the_bar_is_one_point_of_accuracy(
    float_accuracy: float, int8_accuracy: float, passed: bool
) -> None:
    verdict = Verdict(float_accuracy, int8_accuracy, 1.0, 100, 0.01)
    assert verdict.passed is passed
    assert f"{int8_accuracy:.4f} vs float {float_accuracy:.4f}" in verdict.reason()


def test_judge_refuses_images_without_labels(models: tuple[Path, Path]) -> None:
    images = np.zeros((2, 3, 224, 224), dtype=np.float32)
    with pytest.raises(ValueError, match="one column per image"):
        judge(*models, images, [0])
    with pytest.raises(ValueError, match="needs labeled images"):
        judge(*models, images[:0], [])


def test_no_calibration_images_no_file(models: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "model_int8.onnx"
    with pytest.raises(ValueError, match="at least one calibration image"):
        quantize_int8(models[0], out, np.zeros((0, 3, 224, 224), dtype=np.float32))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", [b"", b"not an onnx model" * 100, b"\x08\x07" + b"\xff" * 64])
def test_a_hostile_model_file_fails_and_leaves_nothing(tmp_path: Path, content: bytes) -> None:
    source = tmp_path / "model.onnx"
    source.write_bytes(content)
    out = tmp_path / "out" / "model_int8.onnx"
    with pytest.raises(Exception, match="ONNXRuntimeError"):
        quantize_int8(source, out, np.zeros((1, 3, 224, 224), dtype=np.float32))
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_calibration_images_of_the_wrong_size_fail_and_leave_nothing(
    models: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "model_int8.onnx"
    with pytest.raises(Exception, match="dimensions"):
        quantize_int8(models[0], out, np.zeros((1, 3, 64, 64), dtype=np.float32))
    assert list(tmp_path.iterdir()) == []
