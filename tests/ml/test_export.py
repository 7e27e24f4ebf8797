"""Exported models: the probe on top of the real backbone, written as TorchScript,
torch.export (.pt2) and ONNX, loaded back and run the way a user would, agreeing with
Curator's own numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from tests.ml.conftest import CPU, flowers
from workers.ml.backbones import BACKBONES, DEFAULT_BACKBONE
from workers.ml.embed import embed_files
from workers.ml.export import (
    export_onnx,
    export_pt2,
    export_torchscript,
    linear_classifier,
    preprocessing_json,
    with_softmax,
)
from workers.ml.images import load_for_model
from workers.ml.linear import LinearModel, fit_linear, predict_proba

SPEC = BACKBONES[DEFAULT_BACKBONE]
NAMES = ["bluebell", "buttercup", "colts-foot"]


@pytest.fixture(scope="module")
def photos() -> list[Path]:
    return [p for p, _ in flowers("train", 4, classes=3)]


@pytest.fixture(scope="module")
def probe(photos: list[Path], onnx_cache: Path) -> tuple[LinearModel, np.ndarray]:
    vectors = embed_files(photos, device=CPU, cache_dir=onnx_cache).vectors
    y = np.repeat([3, 5, 9], 4)
    return fit_linear(vectors, y), vectors


@pytest.fixture(scope="module")
def classifier(probe: tuple[LinearModel, np.ndarray]) -> nn.Module:
    return linear_classifier(DEFAULT_BACKBONE, probe[0], device=CPU)


@pytest.fixture(scope="module")
def batch(photos: list[Path]) -> np.ndarray:
    return np.stack([load_for_model(p, SPEC) for p in photos[::2]])  # 6 images


@pytest.fixture(scope="module")
def exported(
    classifier: nn.Module, batch: np.ndarray, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("export")
    # Checked on random tensors here, on real photos in the next one.
    export_torchscript(classifier, folder / "model.pt", SPEC)
    export_onnx(classifier, folder / "model.onnx", SPEC, batch)
    return folder / "model.pt", folder / "model.onnx"


@pytest.fixture(scope="module")
def pt2(classifier: nn.Module, batch: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("export") / "model.pt2"
    export_pt2(classifier, path, SPEC, batch[:4])
    return path


def torch_probs(module: nn.Module, images: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return np.asarray(module(torch.from_numpy(images)).numpy())


@pytest.fixture(scope="module")
def expected(classifier: nn.Module, batch: np.ndarray) -> np.ndarray:
    """The torch module's own probabilities for ``batch``: what every export must give."""
    return torch_probs(classifier, batch)


def test_the_classifier_reproduces_the_probe_on_cached_embeddings(
    probe: tuple[LinearModel, np.ndarray], expected: np.ndarray
) -> None:
    model, vectors = probe
    ours = expected
    from_cache = predict_proba(model, vectors[::2])
    assert ours.shape == (6, 3)
    np.testing.assert_allclose(ours.sum(axis=1), 1.0, atol=1e-5)
    # Embeddings are cached as float16, hence the tolerance.
    np.testing.assert_allclose(ours, from_cache, atol=0.02)
    assert (ours.argmax(axis=1) == from_cache.argmax(axis=1)).all()


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_torchscript_runs_on_its_own(
    exported: tuple[Path, Path], batch: np.ndarray, expected: np.ndarray
) -> None:
    extra = {"preprocessing.json": ""}
    loaded = torch.jit.load(str(exported[0]), map_location="cpu", _extra_files=extra)
    for n in (1, 6):  # traced with one image; any batch size works
        with torch.inference_mode():
            got = loaded(torch.from_numpy(batch[:n])).numpy()
        np.testing.assert_allclose(got, expected[:n], atol=1e-5)
    meta = json.loads(extra["preprocessing.json"])
    assert (meta["resize"], meta["crop"], meta["mean"]) == (256, 224, [0.5, 0.5, 0.5])


def test_onnx_runs_in_onnxruntime_like_torch(
    exported: tuple[Path, Path], batch: np.ndarray, expected: np.ndarray
) -> None:
    session = ort.InferenceSession(str(exported[1]), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    assert [o.name for o in session.get_outputs()] == ["probabilities"]
    for n in (1, 6):
        got = session.run(None, {"image": batch[:n]})[0]
        np.testing.assert_allclose(got, expected[:n], atol=1e-4)
    props = {p.key: json.loads(p.value) for p in onnx.load(str(exported[1])).metadata_props}
    assert props["color_order"] == "RGB"
    assert props["layout"] == "NCHW"


def test_pt2_loads_with_torch_export_and_runs_like_torch(
    pt2: Path, batch: np.ndarray, expected: np.ndarray
) -> None:
    extra = {"preprocessing.json": ""}
    program = torch.export.load(str(pt2), extra_files=extra)
    loaded = program.module()
    for n in (1, 6):  # traced with two images; any batch size works
        with torch.inference_mode():
            got = loaded(torch.from_numpy(batch[:n])).numpy()
        np.testing.assert_allclose(got, expected[:n], atol=1e-5)
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()
    meta = json.loads(extra["preprocessing.json"])
    assert (meta["input_name"], meta["crop"], meta["std"]) == ("image", 224, [0.5, 0.5, 0.5])
    assert sorted(p.name for p in pt2.parent.iterdir()) == ["model.pt2"]  # no temporaries


def test_onnx_is_written_by_the_dynamo_exporter_as_one_file(exported: tuple[Path, Path]) -> None:
    proto = onnx.load(str(exported[1]))
    # The legacy TorchScript-based exporter wrote opset 17.
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 18
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # a named batch axis
    # The weights are inside: a user gets one file, not model.onnx beside model.onnx.data.
    assert sorted(p.name for p in exported[1].parent.iterdir()) == ["model.onnx", "model.pt"]


def test_export_leaves_the_callers_module_alone(
    classifier: nn.Module, exported: tuple[Path, Path]
) -> None:
    parameter = next(classifier.parameters())
    assert parameter.device.type == "cpu"
    assert not classifier.training


def test_with_softmax_turns_logits_into_probabilities() -> None:
    logits_model = nn.Linear(4, 3)
    x = torch.randn(5, 4)
    with torch.inference_mode():
        probs = with_softmax(logits_model)(x)
        logits = logits_model(x)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(5))
    assert torch.equal(probs.argmax(dim=1), logits.argmax(dim=1))


def test_preprocessing_json_says_everything_needed() -> None:
    meta = preprocessing_json(SPEC, NAMES)
    json.dumps(meta)
    assert meta["class_names"] == NAMES
    assert meta["input_size"] == [224, 224]
    assert (meta["resize"], meta["crop"]) == (256, 224)
    assert meta["mean"] == [0.5, 0.5, 0.5]
    assert meta["std"] == [0.5, 0.5, 0.5]
    assert (meta["color_order"], meta["layout"]) == ("RGB", "NCHW")
    assert (meta["input_name"], meta["output_name"]) == ("image", "probabilities")


def test_a_probe_of_the_wrong_width_is_refused(probe: tuple[LinearModel, np.ndarray]) -> None:
    model = probe[0]
    narrow = LinearModel(model.classes, model.coef[:, :10], model.intercept)
    with pytest.raises(ValueError, match="expects 10 features"):
        linear_classifier(DEFAULT_BACKBONE, narrow, device=CPU)
