"""Check and describe one uploaded image: the pure part of ingest (no DB, no disk).

One decode serves everything: the integrity check, the size, the perceptual hash and
the thumbnail. JPEGs are decoded at reduced scale (``draft``), which still reads every
byte, so a truncated file is still caught, at a fraction of the cost.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.images.storage import NEEDS_DISPLAY, THUMBNAIL_SIZE

# Big enough for a sharp 256 px thumbnail and a stable perceptual hash.
_DRAFT_SIZE = (THUMBNAIL_SIZE * 2, THUMBNAIL_SIZE * 2)
SUPPORTED = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "WEBP": "webp", "GIF": "gif",
             "BMP": "bmp", "TIFF": "tiff"}  # fmt: skip
_ORIENTATION_TAG = 0x0112
_DISPLAY_SIZE = 4096
# Our own limit (DecodeLimits.max_pixels) is checked on every header before decoding;
# Pillow's global one would refuse configured limits above its default, and only warns
# below twice that.
Image.MAX_IMAGE_PIXELS = None


@dataclass(frozen=True)
class DecodeLimits:
    max_bytes: int = 50 * 2**20
    max_pixels: int = 100_000_000


@dataclass(frozen=True)
class DecodedImage:
    sha256: str
    format: str  # jpeg, png, webp, gif, bmp, tiff
    width: int  # as displayed, after the EXIF orientation
    height: int
    orientation: int  # EXIF value 1-8; the original bytes are kept unrotated
    phash: str  # 64-bit perceptual hash, 16 hex digits
    thumbnail: bytes
    thumbnail_mime: str
    # A PNG to show in browsers, for formats they cannot display (TIFF); else None.
    display: bytes | None = None


class ImageRejected(Exception):
    """The file is not an image Curator can use; the message says why, for the user."""


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def too_large(size: int, limit: int) -> str:
    return f"the file is {_mb(size)}, over the limit of {_mb(limit)}"


def _to_8bit(image: Image.Image) -> Image.Image:
    """RGB, or RGBA where there is transparency; 16-bit and CMYK made displayable."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # Scale by the real range: a plain convert("L") clips 16-bit values to white.
        array = np.asarray(image, dtype=np.float64)
        top = float(array.max()) or 1.0
        return Image.fromarray((array * (255.0 / top)).astype(np.uint8)).convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA"):
        return image.convert("RGBA")
    return image.convert("RGB")


def _shrink(image: Image.Image) -> Image.Image:
    thumb = image.copy()
    thumb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.BICUBIC)
    return thumb


def _encode_thumbnail(thumb: Image.Image) -> tuple[bytes, str]:
    out = io.BytesIO()
    if thumb.mode == "RGBA":
        # WebP keeps transparency at a fraction of PNG's size.
        thumb.save(out, "WEBP", quality=80, method=2)
        return out.getvalue(), "image/webp"
    thumb.save(out, "JPEG", quality=85, optimize=False)
    return out.getvalue(), "image/jpeg"


def decode_image(data: bytes, limits: DecodeLimits | None = None) -> DecodedImage:
    limits = limits or DecodeLimits()
    if not data:
        raise ImageRejected("the file is empty")
    if len(data) > limits.max_bytes:
        raise ImageRejected(too_large(len(data), limits.max_bytes))
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageRejected("not an image, or in a format Curator cannot read") from None
    kind = SUPPORTED.get(image.format or "")
    if kind is None:
        raise ImageRejected(
            f"unsupported format {image.format}; use JPEG, PNG, WebP, GIF, BMP or TIFF"
        )
    # Checked on the header, before any pixel is decoded: a bomb never gets decompressed.
    width, height = image.size
    if width * height > limits.max_pixels:
        raise ImageRejected(
            f"the image is {width}x{height} pixels, over the limit of {limits.max_pixels:,} pixels"
        )
    orientation = int(image.getexif().get(_ORIENTATION_TAG, 1))
    try:
        if kind == "jpeg":
            image.draft("RGB", _DRAFT_SIZE)
        image.seek(0)  # the first frame of a GIF, TIFF or MPO
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"the image data is truncated or corrupt ({exc})") from None
    if orientation not in range(1, 9):
        orientation = 1
    shown = _to_8bit(ImageOps.exif_transpose(image) or image)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    small = _shrink(shown)
    thumbnail, mime = _encode_thumbnail(small)
    display = _display_png(shown) if kind in NEEDS_DISPLAY else None
    return DecodedImage(
        sha256=hashlib.sha256(data).hexdigest(),
        format=kind,
        width=width,
        height=height,
        orientation=orientation,
        # From the thumbnail: phash looks at 32x32 anyway, and resizing the full image
        # a second time was the single largest cost of ingest.
        phash=str(imagehash.phash(small.convert("RGB"))),
        thumbnail=thumbnail,
        thumbnail_mime=mime,
        display=display,
    )


def _display_png(shown: Image.Image) -> bytes:
    if max(shown.size) > _DISPLAY_SIZE:
        shown = shown.copy()
        shown.thumbnail((_DISPLAY_SIZE, _DISPLAY_SIZE), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    shown.save(out, "PNG", compress_level=1)
    return out.getvalue()


def hash_distance(a: str, b: str) -> int:
    """Bits that differ between two perceptual hashes: small means near duplicate."""
    return int(imagehash.hex_to_hash(a) - imagehash.hex_to_hash(b))
