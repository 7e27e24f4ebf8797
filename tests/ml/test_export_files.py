"""A run's model files: each format checked on the run's own photos before it is kept,
int8 kept only above the accuracy bar, and model.json saying what was kept and why any
was not. A tiny network at Lite0's input size keeps these quick; the real backbone's
files are covered in test_export.py, test_quantize.py and the download tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from tests.ml.conftest import flowers
from workers.ml.backbones import BACKBONES, DEFAULT_BACKBONE
from workers.ml.export import preprocessing_json
from workers.ml.images import load_for_model
from workers.ml.model_files import FILES, Labeled, load_sample, write_model_files

SPEC = BACKBONES[DEFAULT_BACKBONE]
NAMES = ["bluebell", "buttercup", "colts-foot"]


class Tiny(nn.Module):
    """Pixels -> 3 class probabilities through a convolution: quick to export, and
    quantizable like a real network."""

    def __init__(self) -> None:
        super().__init__()
        with torch.random.fork_rng():  # the same weights each time, the global RNG untouched
            torch.manual_seed(0)
            self.conv = nn.Conv2d(3, 8, 5, stride=4)
            self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.relu(self.conv(x)).mean(dim=(2, 3))
        return torch.softmax(self.head(pooled), dim=1)


class Unexportable(Tiny):
    """Works in eager mode, but reads pixel values into Python numbers: tracing bakes
    the example's numbers in, torch.export cannot save the graph; only the ONNX
    exporter (which falls back to dynamo's own capture) follows it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = 1.0 + abs(sum(x.flatten()[:16].tolist()))
        return super().forward(x * scale)


class Noisy(Tiny):
    """Answers differently on every call: no file can agree with it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) + torch.rand(x.shape[0], 3)


@pytest.fixture(scope="module")
def labeled() -> list[Labeled]:
    photos = flowers("train", 6, classes=3)
    return [Labeled(p, NAMES.index(s)) for p, s in photos]


def _meta() -> dict[str, object]:
    return {"run_id": 7, **preprocessing_json(SPEC, NAMES)}


def test_every_format_is_checked_on_the_runs_photos_and_listed(
    labeled: list[Labeled], tmp_path: Path
) -> None:
    module = Tiny().eval()
    meta = write_model_files(module, tmp_path, SPEC, _meta(), labeled, max_drop=1.0)
    on_disk = json.loads((tmp_path / "model.json").read_text())
    assert on_disk == meta
    assert on_disk["run_id"] == 7
    assert on_disk["class_names"] == NAMES
    assert on_disk["checked_on"] == "8 of the run's labeled images"
    formats = on_disk["formats"]
    assert set(formats) == set(FILES)
    for name, entry in formats.items():
        assert entry["offered"] is True, entry
        assert (tmp_path / FILES[name]).stat().st_size == entry["bytes"]
    int8 = formats["onnx-int8"]
    assert int8["calibration_images"] == 18  # all the readable ones: fewer than 64
    assert int8["images"] == 18
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*FILES.values(), "model.json"])
    # The ONNX file answers like the module on a photo it was not checked on.
    photo = load_for_model(flowers("test", 1, classes=1)[0][0], SPEC)[None]
    session = ort.InferenceSession(str(tmp_path / "model.onnx"))
    with torch.inference_mode():
        expected = module(torch.from_numpy(photo)).numpy()
    np.testing.assert_allclose(session.run(None, {"image": photo})[0], expected, atol=1e-5)


def test_an_int8_model_below_the_bar_is_not_offered_and_the_reason_is_kept(
    labeled: list[Labeled], tmp_path: Path
) -> None:
    # A bar no model can clear: int8 would have to be 50 points better than float.
    meta = write_model_files(Tiny(), tmp_path, SPEC, _meta(), labeled, max_drop=-0.5)
    int8 = json.loads((tmp_path / "model.json").read_text())["formats"]["onnx-int8"]
    assert meta["formats"]["onnx-int8"] == int8  # type: ignore[index]
    assert int8["offered"] is False
    assert "int8 accuracy" in int8["reason"]
    assert "more than the -50 allowed" in int8["reason"]
    assert {"float_accuracy", "int8_accuracy", "agreement"} <= set(int8)
    assert not (tmp_path / "model_int8.onnx").exists()
    assert (tmp_path / "model.onnx").exists()  # the float model is still offered
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["model.pt", "model.pt2", "model.onnx", "model.json"]
    )


def test_a_file_that_fails_its_check_is_not_offered_and_the_others_are(
    labeled: list[Labeled], tmp_path: Path
) -> None:
    module = Unexportable().eval()
    write_model_files(module, tmp_path, SPEC, _meta(), labeled[:10], max_drop=1.0)
    formats = json.loads((tmp_path / "model.json").read_text())["formats"]
    # TorchScript's trace succeeds and bakes in the example: the check on photos finds it.
    assert formats["torchscript"]["offered"] is False
    assert "disagrees with the model" in formats["torchscript"]["reason"]
    assert formats["pt2"]["offered"] is False
    assert formats["pt2"]["reason"].startswith("the pt2 export failed its check: ")
    assert formats["onnx"]["offered"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "model.json",
        "model.onnx",
        "model_int8.onnx",
    ]
    photos = load_sample(labeled[10:], 4, SPEC, seed=0).images
    session = ort.InferenceSession(str(tmp_path / "model.onnx"))
    with torch.inference_mode():
        expected = module(torch.from_numpy(photos)).numpy()
    np.testing.assert_allclose(session.run(None, {"image": photos})[0], expected, atol=1e-5)


def test_a_model_no_file_can_agree_with_is_offered_in_no_format(
    labeled: list[Labeled], tmp_path: Path
) -> None:
    write_model_files(Noisy(), tmp_path, SPEC, _meta(), labeled[:10])
    formats = json.loads((tmp_path / "model.json").read_text())["formats"]
    for name in ("torchscript", "pt2", "onnx"):
        assert formats[name]["offered"] is False, name
        assert f"the {name} export failed its check" in formats[name]["reason"]
        assert "disagrees with the model" in formats[name]["reason"]
    assert formats["onnx-int8"] == {
        "offered": False,
        "reason": "there is no float ONNX model to quantize",
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]  # no temporaries


def test_unreadable_photos_are_skipped_and_none_means_random_checks(
    labeled: list[Labeled], odd_images: dict[str, Path], tmp_path: Path
) -> None:
    hostile = [Labeled(odd_images[k], 0) for k in ("corrupt", "truncated_jpg", "missing")]
    sample = load_sample([*hostile, *labeled[:3]], 10, SPEC, seed=1)
    assert len(sample) == 3
    assert sample.images.shape == (3, 3, 224, 224)

    meta = write_model_files(Tiny(), tmp_path, SPEC, _meta(), hostile)
    assert meta["checked_on"] == "3 random tensors (none of the run's images could be read)"
    formats = meta["formats"]
    assert isinstance(formats, dict)
    assert all(formats[n]["offered"] for n in ("torchscript", "pt2", "onnx"))
    assert formats["onnx-int8"] == {
        "offered": False,
        "reason": "none of the run's labeled images could be read",
    }


def test_the_sample_is_bounded_and_seeded(labeled: list[Labeled]) -> None:
    first = load_sample(labeled, 5, SPEC, seed=3)
    again = load_sample(labeled, 5, SPEC, seed=3)
    other = load_sample(labeled, 5, SPEC, seed=4)
    assert len(first) == 5
    assert first.columns == again.columns
    np.testing.assert_array_equal(first.images, again.images)
    assert not np.array_equal(first.images, other.images)
