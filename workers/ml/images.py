"""Decode an image file into what a backbone expects: one place for embed, finetune, export.

The geometry matches torchvision's ``Resize(resize)`` + ``CenterCrop(input_size)``, the
transform the pretrained weights were evaluated with, but it is computed faster:

- JPEGs are decoded at a reduced DCT scale (``Image.draft``) that still leaves the shorter
  side at least ``resize`` pixels, so a 4000x3000 photo costs about as much as 500x375;
- only the region that survives the center crop is resampled (``resize(box=...)``).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from workers.ml.backbones import BackboneSpec

Array = npt.NDArray[np.float32]
_WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
# Transparent pixels become white: cut-out product shots and logos are drawn for a
# white page, and the colour stored under alpha 0 is arbitrary (often black).
_BACKGROUND = (255, 255, 255)


class ImageUnreadable(Exception):
    """The file cannot be decoded; the message is meant for the user."""


def open_rgb(path: Path, min_side: int) -> Image.Image:
    """Decode ``path`` to 8-bit RGB, EXIF-oriented, shorter side at least ``min_side``
    whenever the original's is (JPEGs are reduced by DCT scaling while decoding)."""
    try:
        with Image.open(path) as image:
            # draft() keeps both sides >= the request, so the shorter side stays >= min_side.
            image.draft("RGB", (min_side, min_side))
            image.load()
            return _to_rgb(_oriented(image))
    except FileNotFoundError:
        raise ImageUnreadable(f"file not found: {path.name}") from None
    except Image.DecompressionBombError as exc:
        raise ImageUnreadable(f"the image is too large to decode ({exc})") from None
    except UnidentifiedImageError:
        raise ImageUnreadable("not an image, or in a format that cannot be read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageUnreadable(f"the image data is truncated or corrupt ({exc})") from None


def _oriented(image: Image.Image) -> Image.Image:
    """As the camera meant it to be seen; a malformed EXIF block leaves it as stored
    rather than losing a photo whose pixels are fine."""
    try:
        return ImageOps.exif_transpose(image) or image
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, struct.error):
        return image


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in _WIDE_MODES:
        # Scale by the image's own range: a plain convert("L") clips 16-bit values to white.
        values = np.asarray(image, dtype=np.float32)
        top = float(values.max()) if values.size else 0.0
        low = min(float(values.min()), 0.0) if values.size else 0.0
        span = (top - low) or 1.0
        scaled = ((values - low) * (255.0 / span)).clip(0, 255).astype(np.uint8)
        return Image.fromarray(scaled).convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in _ALPHA_MODES:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, _BACKGROUND)
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    if image.mode != "RGB":
        return image.convert("RGB")
    return image


def crop_box(width: int, height: int, spec: BackboneSpec) -> tuple[float, float, float, float]:
    """The source region that Resize(spec.resize) then CenterCrop(spec.input_size) keeps."""
    # torchvision rounds the resized long side down; the crop offset is rounded.
    if width <= height:
        resized = (spec.resize, int(spec.resize * height / width))
    else:
        resized = (int(spec.resize * width / height), spec.resize)
    left = round((resized[0] - spec.input_size) / 2.0)
    top = round((resized[1] - spec.input_size) / 2.0)
    to_source_x = width / resized[0]
    to_source_y = height / resized[1]
    return (
        left * to_source_x,
        top * to_source_y,
        (left + spec.input_size) * to_source_x,
        (top + spec.input_size) * to_source_y,
    )


def normalize(pixels: npt.NDArray[np.uint8], spec: BackboneSpec) -> Array:
    """uint8 HWC RGB -> float32 CHW, (x / 255 - mean) / std in one multiply-add."""
    scale = (1.0 / (255.0 * np.asarray(spec.std, dtype=np.float32))).astype(np.float32)
    offset = (-np.asarray(spec.mean, dtype=np.float32) / np.asarray(spec.std)).astype(np.float32)
    out = pixels.astype(np.float32)
    out *= scale
    out += offset
    return np.ascontiguousarray(out.transpose(2, 0, 1))


_RESAMPLING = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}


def model_pixels(image: Image.Image, spec: BackboneSpec) -> npt.NDArray[np.uint8]:
    """The centre crop at the model's input size, uint8 HWC."""
    size = (spec.input_size, spec.input_size)
    box = crop_box(image.width, image.height, spec)
    resized = image.resize(size, _RESAMPLING[spec.interpolation], box=box)
    return np.asarray(resized, dtype=np.uint8)


def load_for_model(path: Path, spec: BackboneSpec) -> Array:
    """float32 (3, input_size, input_size), normalized, ready to stack into a batch."""
    return normalize(model_pixels(open_rgb(path, spec.resize), spec), spec)
