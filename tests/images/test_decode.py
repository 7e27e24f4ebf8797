"""decode_image: every supported flavour decodes; every hostile file gets a clear reason."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from app.imports.decode import DecodeLimits, ImageRejected, decode_image, hash_distance
from tests.images import corpus
from tests.support.datasets import FLOWERS12
from tests.support.env import require

FLOWERS = FLOWERS12


def thumbnail_of(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(decode_image(data).thumbnail))


@pytest.mark.parametrize(
    ("make", "fmt", "size"),
    [
        (corpus.jpeg, "jpeg", (500, 375)),
        (lambda: corpus.encode(corpus.photo(), "PNG"), "png", (500, 375)),
        (lambda: corpus.encode(corpus.photo(), "WEBP"), "webp", (500, 375)),
        (lambda: corpus.encode(corpus.photo(), "BMP"), "bmp", (500, 375)),
        (lambda: corpus.encode(corpus.photo(), "TIFF"), "tiff", (500, 375)),
        (lambda: corpus.encode(corpus.photo().convert("L"), "JPEG"), "jpeg", (500, 375)),
        (corpus.cmyk_jpeg, "jpeg", (160, 120)),
        (corpus.png_16bit_gray, "png", (200, 100)),
        (corpus.png_palette_with_transparency, "png", (120, 80)),
        (corpus.png_rgba, "png", (120, 80)),
        (corpus.gif_two_frames, "gif", (80, 60)),
    ],
)
def test_supported_flavours_decode(make: object, fmt: str, size: tuple[int, int]) -> None:
    data = make()  # type: ignore[operator]
    decoded = decode_image(data)
    assert decoded.format == fmt
    assert (decoded.width, decoded.height) == size
    assert len(decoded.sha256) == 64
    assert len(decoded.phash) == 16
    thumb = Image.open(io.BytesIO(decoded.thumbnail))
    assert max(thumb.size) <= 256
    assert thumb.format == ("WEBP" if decoded.thumbnail_mime == "image/webp" else "JPEG")


def test_transparency_survives_in_a_webp_thumbnail() -> None:
    decoded = decode_image(corpus.png_rgba())
    assert decoded.thumbnail_mime == "image/webp"
    assert Image.open(io.BytesIO(decoded.thumbnail)).mode == "RGBA"


def test_sixteen_bit_gray_is_scaled_not_clipped() -> None:
    thumb = thumbnail_of(corpus.png_16bit_gray()).convert("L")
    left, right = thumb.getpixel((2, 10)), thumb.getpixel((thumb.width - 3, 10))
    assert left < 30  # dark end of the ramp stays dark
    assert right > 220  # a plain convert would have clipped everything to white


@pytest.mark.parametrize(
    ("orientation", "size"), [(1, (400, 300)), (3, (400, 300)), (6, (300, 400)), (8, (300, 400))]
)
def test_exif_orientation_is_applied_for_display(orientation: int, size: tuple[int, int]) -> None:
    data = corpus.jpeg_with_orientation(orientation)
    decoded = decode_image(data)
    assert decoded.orientation == orientation
    assert (decoded.width, decoded.height) == size
    thumb = thumbnail_of(data)
    assert (thumb.width > thumb.height) == (size[0] > size[1])


def test_near_duplicates_are_close_and_different_images_far() -> None:
    original = corpus.photo(seed=3)
    resized = corpus.encode(original.resize((250, 188)), "JPEG", quality=60)
    a = decode_image(corpus.encode(original, "JPEG", quality=95)).phash
    b = decode_image(resized).phash
    other = decode_image(corpus.jpeg(seed=11)).phash
    assert hash_distance(a, b) <= 6
    assert hash_distance(a, other) > 16


def test_sha256_is_of_the_original_bytes() -> None:
    import hashlib

    data = corpus.jpeg()
    assert decode_image(data).sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("data", "limits", "reason"),
    [
        (b"", None, "the file is empty"),
        (b"just some text, not a JPEG\n" * 10, None, "not an image"),
        (corpus.jpeg()[:4000], None, "truncated or corrupt"),
        (corpus.png_with_claimed_size(50_000, 50_000), None, "50000x50000 pixels, over the limit"),
        (corpus.jpeg(), DecodeLimits(max_bytes=10_000), "over the limit of 0.0 MB"),
        (corpus.encode(corpus.photo(64, 64), "PPM"), None, "unsupported format PPM"),
        (corpus.encode(corpus.photo(64, 64), "ICO"), None, "unsupported format ICO"),
        (corpus.jpeg(), DecodeLimits(max_pixels=1000), "over the limit of 1,000 pixels"),
    ],
)
def test_bad_files_get_a_reason(data: bytes, limits: DecodeLimits | None, reason: str) -> None:
    with pytest.raises(ImageRejected, match=reason.replace("(", r"\(")):
        decode_image(data, limits)


def test_real_photographs_decode() -> None:
    require(FLOWERS.is_dir(), f"the flowers12 dataset is missing at {FLOWERS}")
    paths = sorted(FLOWERS.glob("train/*/*.jpg"))[::60]
    assert len(paths) == 12
    for path in paths:
        decoded = decode_image(path.read_bytes())
        assert (decoded.width, decoded.height) == (224, 224)
        assert decoded.format == "jpeg"
