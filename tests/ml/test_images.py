"""Decoding and preprocessing: torchvision's geometry, any image mode, EXIF orientation,
reduced-scale JPEG decoding, and readable errors for broken files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from torchvision import transforms

from tests.ml.conftest import flowers
from workers.ml.backbones import BACKBONES, DEFAULT_BACKBONE
from workers.ml.images import ImageUnreadable, load_for_model, open_rgb

SPEC = BACKBONES[DEFAULT_BACKBONE]
REFERENCE = transforms.Compose(
    [
        transforms.Resize(SPEC.resize),
        transforms.CenterCrop(SPEC.input_size),
        transforms.ToTensor(),
        transforms.Normalize(SPEC.mean, SPEC.std),
    ]
)


def reference(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(REFERENCE(image.convert("RGB")))


def test_a_flowers_photo_matches_torchvision_exactly() -> None:
    path = flowers("train", 1, classes=1)[0][0]
    ours = load_for_model(path, SPEC)
    assert ours.dtype == np.float32
    assert ours.shape == (3, 224, 224)
    np.testing.assert_allclose(ours, reference(path), atol=1e-5)


@pytest.mark.parametrize("size", [(300, 700), (701, 299), (257, 256)])
def test_non_square_images_keep_torchvisions_crop(tmp_path: Path, size: tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    # Smooth content: resampling differences on noise would hide a misplaced crop.
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]]
    pixels = np.stack([xx * 255 // size[0], yy * 255 // size[1], (xx + yy) % 256], axis=-1)
    path = tmp_path / "shape.png"
    Image.fromarray((pixels + rng.integers(0, 2, pixels.shape)).astype(np.uint8)).save(path)
    assert np.abs(load_for_model(path, SPEC) - reference(path)).mean() < 0.01


def test_big_jpegs_decode_at_reduced_scale(tmp_path: Path) -> None:
    source = flowers("train", 1, classes=1)[0][0]
    big = tmp_path / "big.jpg"
    with Image.open(source) as image:
        image.convert("RGB").resize((2048, 1536), Image.Resampling.BICUBIC).save(big, quality=92)
    decoded = open_rgb(big, SPEC.resize)
    # DCT scaling by 4 still leaves the shorter side >= 256, the resize target.
    assert decoded.size == (512, 384)
    # And the model sees nearly what the full decode would have given.
    assert np.abs(load_for_model(big, SPEC) - reference(big)).mean() < 0.02


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    pixels = np.zeros((200, 300, 3), dtype=np.uint8)
    pixels[:, :150] = (255, 0, 0)  # stored: red left, blue right
    pixels[:, 150:] = (0, 0, 255)
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise: red on top
    path = tmp_path / "rotated.jpg"
    image.save(path, quality=95, exif=exif)
    shown = np.asarray(open_rgb(path, 200))
    assert shown.shape == (300, 200, 3)
    assert shown[20, 100, 0] > 200
    assert shown[20, 100, 2] < 60
    assert shown[280, 100, 2] > 200
    assert shown[280, 100, 0] < 60


def test_transparent_pixels_become_white(odd_images: dict[str, Path]) -> None:
    shown = np.asarray(open_rgb(odd_images["rgba_png"], 100))
    assert shown.shape == (120, 160, 3)
    assert tuple(shown[60, 20]) == (200, 30, 30)
    assert tuple(shown[60, 140]) == (255, 255, 255)


def test_sixteen_bit_grayscale_keeps_its_range(odd_images: dict[str, Path]) -> None:
    shown = np.asarray(open_rgb(odd_images["gray16_png"], 100))
    # A plain convert() would clip 0..4000 to mostly white; scaled, it is a full ramp.
    assert shown[0, 0, 0] < 5
    assert shown[-1, -1, 0] > 250
    assert 100 < shown[100, 150, 0] < 155
    assert (shown[..., 0] == shown[..., 2]).all()


@pytest.mark.parametrize("kind", ["rgba_png", "gray16_png", "gray_jpg", "cmyk_jpg", "palette_gif"])
def test_every_mode_becomes_a_normalized_rgb_array(odd_images: dict[str, Path], kind: str) -> None:
    array = load_for_model(odd_images[kind], SPEC)
    assert array.shape == (3, 224, 224)
    assert np.isfinite(array).all()
    assert array.min() >= -1.0
    assert array.max() <= 1.0


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("corrupt", "not an image"),
        ("truncated_jpg", "truncated or corrupt"),
        ("missing", "file not found"),
    ],
)
def test_broken_files_say_why(odd_images: dict[str, Path], kind: str, reason: str) -> None:
    with pytest.raises(ImageUnreadable, match=reason):
        load_for_model(odd_images[kind], SPEC)
