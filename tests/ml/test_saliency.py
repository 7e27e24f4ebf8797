"""Grad-CAM maps from the real offline backbone and a probe trained on flowers12.

What a user checks: the map is a proper picture over the photo, it depends on what the
model learned (Adebayo et al. 2018: randomising the head must change it), and it points
at the flower, more than a centred blob of the same size would (the photos are centred,
so the boxes below are pictures whose flower is not).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.stats import spearmanr
from torch import nn

from tests.ml.conftest import CPU, FLOWERS, flowers
from tests.support.env import require
from workers.ml.backbones import BACKBONES, DEFAULT_BACKBONE
from workers.ml.classifier import Classifier
from workers.ml.export import export_torchscript, linear_classifier, with_softmax
from workers.ml.images import crop_box, load_for_model, model_pixels, open_rgb
from workers.ml.linear import LinearModel, fit_linear
from workers.ml.saliency import (
    MAX_SIDE,
    Explainer,
    explain_file,
    finetuned_explainer,
    grad_cam,
    linear_explainer,
    load_explainer,
    render_png,
)

SPEC = BACKBONES[DEFAULT_BACKBONE]
SIDE = SPEC.input_size
# Flowers away from the centre, boxed by hand from the 224 px test photos (x0, y0, x1,
# y1 in the photo's pixels), looked at on a 16 px grid.
BOXES = {
    "daisy/image_0879.jpg": (58, 6, 182, 104),  # upper left-centre, stem below
    "buttercup/image_1188.jpg": (46, 20, 140, 84),  # top, on grey rock
    "colts-foot/image_0943.jpg": (128, 20, 224, 126),  # upper right
    "dandelion/image_1014.jpg": (10, 0, 218, 100),  # a wide head along the top
    "buttercup/image_1185.jpg": (110, 36, 204, 144),  # right, buds on the left
    "pansy/image_1349.jpg": (90, 36, 184, 148),  # right of centre
}


@pytest.fixture(scope="module")
def probe(lite0: nn.Module) -> LinearModel:
    """A probe on 20 photos per species, embedded by the same backbone the maps use."""
    photos = flowers("train", 20)
    species = sorted({s for _, s in photos})
    batch = torch.from_numpy(np.stack([load_for_model(p, SPEC) for p, _ in photos]))
    with torch.no_grad():
        vectors = torch.cat([lite0(part) for part in batch.split(40)]).numpy()
    labels = np.array([species.index(s) for _, s in photos])
    return fit_linear(vectors, labels)


@pytest.fixture(scope="module")
def explainer(lite0: nn.Module, probe: LinearModel) -> Explainer:
    return linear_explainer(DEFAULT_BACKBONE, lite0, probe.coef, probe.intercept)


def _test_photo(name: str) -> Path:
    path = FLOWERS / "test" / name
    require(path.is_file(), f"the flowers12 dataset is missing at {FLOWERS}")
    return path


def _pixels(path: Path) -> np.ndarray:
    return model_pixels(open_rgb(path, SPEC.resize), SPEC)


def test_the_map_is_a_unit_range_heat_map_of_the_crop_for_the_top_class(
    explainer: Explainer,
) -> None:
    saliency = grad_cam(explainer, _pixels(_test_photo("daisy/image_0879.jpg")), None)
    assert saliency.heat.shape == (SIDE, SIDE)
    assert saliency.heat.dtype == np.float32
    assert float(saliency.heat.min()) >= 0.0
    assert float(saliency.heat.max()) == pytest.approx(1.0, abs=1e-5)
    assert float(saliency.heat.std()) > 0.05  # a map, not a flat field
    assert saliency.column == int(np.argmax(saliency.probabilities))
    assert saliency.probabilities.sum() == pytest.approx(1.0, abs=1e-4)
    assert saliency.column == 3  # daisy: the probe knows the photo


def test_another_class_gives_another_map(explainer: Explainer) -> None:
    pixels = _pixels(_test_photo("colts-foot/image_0943.jpg"))
    top = grad_cam(explainer, pixels, None)
    other = grad_cam(explainer, pixels, (top.column + 5) % 12)
    assert other.column == (top.column + 5) % 12
    assert not np.allclose(top.heat, other.heat, atol=0.05)
    with pytest.raises(ValueError, match="outside"):
        grad_cam(explainer, pixels, 12)


def test_the_png_has_the_photo_s_proportions_and_is_clear_outside_the_crop(
    explainer: Explainer, tmp_path: Path
) -> None:
    wide = tmp_path / "wide.jpg"
    source = Image.open(_test_photo("pansy/image_1349.jpg")).convert("RGB")
    source.resize((600, 300)).save(wide)
    saliency, png = explain_file(explainer, wide, None)
    image = Image.open(io.BytesIO(png))
    assert (image.format, image.mode, image.size) == ("PNG", "RGBA", (600, 300))
    alpha = np.asarray(image)[..., 3]
    left, top, right, bottom = (round(v) for v in crop_box(600, 300, SPEC))
    assert alpha[:, : left - 1].max() == 0  # the margins the model never saw
    assert alpha[:, right + 1 :].max() == 0
    inside = alpha[top:bottom, left + 1 : right - 1]
    assert inside.min() > 0  # the crop is tinted everywhere, more where it is hot
    assert int(inside.max()) > int(inside.min()) + 60
    assert saliency.heat.shape == (SIDE, SIDE)


def test_a_hostile_aspect_ratio_gets_a_bounded_canvas() -> None:
    heat = np.linspace(0, 1, SIDE * SIDE, dtype=np.float32).reshape(SIDE, SIDE)
    image = Image.open(io.BytesIO(render_png(heat, 20_000, 2, SPEC)))
    assert max(image.size) == MAX_SIDE
    assert min(image.size) >= 1


def test_a_map_from_randomised_head_weights_differs(
    explainer: Explainer, lite0: nn.Module, probe: LinearModel
) -> None:
    """Adebayo et al.'s model-randomisation check on the layer the run trained."""
    rng = np.random.default_rng(0)
    coef = rng.normal(0, probe.coef.std(), probe.coef.shape)
    intercept = rng.normal(0, probe.intercept.std() + 1e-3, probe.intercept.shape)
    randomised = linear_explainer(DEFAULT_BACKBONE, lite0, coef, intercept)
    correlations = []
    for name in BOXES:
        pixels = _pixels(_test_photo(name))
        trained = grad_cam(explainer, pixels, None)
        random = grad_cam(randomised, pixels, trained.column)
        rho = spearmanr(trained.heat[::8, ::8].ravel(), random.heat[::8, ::8].ravel())[0]
        correlations.append(0.0 if np.isnan(rho) else float(rho))
    print("rank correlation trained vs randomised head:", np.round(correlations, 2))
    assert float(np.mean(correlations)) < 0.4
    assert max(correlations) < 0.7


def _centred_gaussian_like(heat: np.ndarray) -> np.ndarray:
    """A Gaussian at the crop's centre with the map's own spread along each axis."""
    ys, xs = np.mgrid[0 : heat.shape[0], 0 : heat.shape[1]].astype(np.float64)
    mass = heat / heat.sum()
    cy, cx = (mass * ys).sum(), (mass * xs).sum()
    sy = np.sqrt((mass * (ys - cy) ** 2).sum())
    sx = np.sqrt((mass * (xs - cx) ** 2).sum())
    my, mx = (heat.shape[0] - 1) / 2, (heat.shape[1] - 1) / 2
    gauss = np.exp(-0.5 * (((ys - my) / sy) ** 2 + ((xs - mx) / sx) ** 2))
    return gauss / gauss.sum()


def _in_crop(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """A box in the 224 px photo -> the same box in the model's centre crop."""
    left, top, right, _bottom = crop_box(224, 224, SPEC)
    scale = SIDE / (right - left)
    x0, y0, x1, y1 = ((v - o) * scale for v, o in zip(box, (left, top, left, top), strict=True))
    return tuple(round(min(max(v, 0), SIDE)) for v in (x0, y0, x1, y1))  # type: ignore[return-value]


def test_the_map_points_at_the_flower_more_than_a_centred_blob(explainer: Explainer) -> None:
    wins = []
    for name, box in BOXES.items():
        heat = grad_cam(explainer, _pixels(_test_photo(name)), None).heat.astype(np.float64)
        x0, y0, x1, y1 = _in_crop(box)
        share = heat[y0:y1, x0:x1].sum() / heat.sum()
        prior = _centred_gaussian_like(heat)[y0:y1, x0:x1].sum()
        print(f"{name}: map {share:.2f} in the box, centred Gaussian {prior:.2f}")
        wins.append(share > prior)
    assert all(wins)


def test_a_run_s_exported_files_explain_like_the_model_they_came_from(
    lite0: nn.Module, probe: LinearModel, explainer: Explainer, tmp_path: Path
) -> None:
    """Both run modes, rebuilt from their TorchScript file alone, give the same map."""
    pixels = _pixels(_test_photo("buttercup/image_1185.jpg"))
    linear_file = tmp_path / "linear.pt"
    export_torchscript(linear_classifier(DEFAULT_BACKBONE, probe, device=CPU), linear_file, SPEC)
    rebuilt = load_explainer(linear_file, DEFAULT_BACKBONE, "linear", 12)
    expected = grad_cam(explainer, pixels, None)
    got = grad_cam(rebuilt, pixels, None)
    assert got.column == expected.column
    np.testing.assert_allclose(got.heat, expected.heat, atol=1e-3)

    torch.manual_seed(0)
    classifier = Classifier(lite0, SPEC.dim, 12).eval()
    with torch.no_grad():  # the probe as the fine-tuned head: a head that knows flowers
        classifier.head.weight.copy_(torch.from_numpy(probe.coef * 30))
        classifier.head.bias.copy_(torch.from_numpy(probe.intercept))
    tuned_file = tmp_path / "tuned.pt"
    export_torchscript(with_softmax(classifier), tuned_file, SPEC)
    tuned = load_explainer(tuned_file, DEFAULT_BACKBONE, "finetune", 12)
    direct = grad_cam(finetuned_explainer(DEFAULT_BACKBONE, classifier), pixels, None)
    again = grad_cam(tuned, pixels, None)
    assert again.column == direct.column
    np.testing.assert_allclose(again.heat, direct.heat, atol=1e-3)
    with pytest.raises(RuntimeError):  # the wrong mode's layout does not load quietly
        load_explainer(tuned_file, DEFAULT_BACKBONE, "linear", 12)


@pytest.mark.parametrize(
    "backbone", ["alexnet", "googlenet", "mobilenet_v3_large", "efficientnet_b0", "dinov2_small"]
)
def test_every_shelf_backbone_gets_a_map(backbone: str) -> None:
    """The classics and DINOv2 (random weights: only where the map is taken is checked):
    the layer is the last spatial feature map, so the heat map covers the crop and is not
    flat."""
    from workers.ml.backbones import get_spec, load_backbone

    spec = get_spec(backbone)
    features = load_backbone(backbone, CPU, random_weights=True)
    torch.manual_seed(0)
    coef = torch.randn(3, spec.dim).numpy()
    explainer = linear_explainer(backbone, features, coef, np.zeros(3, np.float32))
    path, _ = flowers("train", 1, 1)[0]
    pixels = model_pixels(open_rgb(path, spec.resize), spec)
    maps = [grad_cam(explainer, pixels, column) for column in range(3)]
    assert all(m.heat.shape == (spec.input_size, spec.input_size) for m in maps)
    assert [m.column for m in maps] == [0, 1, 2]
    # A random head can push one class's map below zero everywhere (Grad-CAM's ReLU then
    # leaves it flat); a layer with no spatial map would leave every class's flat.
    assert any(float(m.heat.max()) > float(m.heat.min()) for m in maps)


@pytest.mark.parametrize(("head", "classes"), [("logreg", 3), ("svm", 3), ("svm", 2), ("mlp", 3)])
def test_a_run_with_any_head_explains_its_own_class_scores(
    lite0: nn.Module, head: str, classes: int, tmp_path: Path
) -> None:
    """A linear run's export is the backbone and its head (workers.ml.heads.module):
    rebuilt from the TorchScript file, the explainer scores the classes as the file
    does (the softmax of its scores is the file's output), and gives a map."""
    from workers.ml import heads
    from workers.ml.export import head_classifier

    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(classes), 12)
    model = heads.fit_head(head, rng.normal(size=(len(labels), SPEC.dim)), labels, seed=0)
    exported = head_classifier(DEFAULT_BACKBONE, heads.module(model), SPEC.dim, device=CPU)
    path = tmp_path / f"{head}.pt"
    export_torchscript(exported, path, SPEC)
    rebuilt = load_explainer(path, DEFAULT_BACKBONE, "linear", classes)
    photo = _test_photo("buttercup/image_1185.jpg")
    batch = torch.from_numpy(load_for_model(photo, SPEC))[None]
    with torch.no_grad():
        scores = rebuilt.model(batch)
        probabilities = exported(batch)
    assert scores.shape == probabilities.shape == (1, classes)
    saliency = grad_cam(rebuilt, _pixels(photo), None)
    assert saliency.heat.shape == (SIDE, SIDE)
    assert saliency.column == int(scores.argmax())
    if head != "svm":  # softmax keeps the order; Platt scaling is per class, it may not
        assert int(scores.argmax()) == int(probabilities.argmax())
        torch.testing.assert_close(torch.softmax(scores, 1), probabilities, atol=1e-5, rtol=0)
    with pytest.raises(RuntimeError):  # the run's class count must be the file's
        load_explainer(path, DEFAULT_BACKBONE, "linear", classes + 1)
