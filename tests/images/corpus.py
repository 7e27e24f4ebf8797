"""Test images made in code: good ones in every supported flavour, and hostile ones."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def photo(width: int = 500, height: int = 375, seed: int = 0) -> Image.Image:
    """A photo-like RGB image: smooth gradients plus texture, different per seed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack(
        [
            (x * (0.5 + seed % 3) / width * 255) % 256,
            (y / height * 255 + seed * 40) % 256,
            ((x + y) / (width + height) * 255 + seed * 90) % 256,
        ],
        axis=-1,
    )
    blobs = rng.normal(0, 1, (height // 25 + 1, width // 25 + 1, 3))
    texture = np.kron(blobs, np.ones((25, 25, 1)))[:height, :width] * 40
    return Image.fromarray(np.clip(base + texture, 0, 255).astype(np.uint8), "RGB")


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def jpeg(seed: int = 0, **params: object) -> bytes:
    return encode(photo(seed=seed), "JPEG", quality=90, **params)


def jpeg_with_orientation(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(photo(400, 300), "JPEG", exif=exif.tobytes())


def png_16bit_gray() -> bytes:
    ramp = np.tile(np.linspace(0, 65535, 200), (100, 1)).astype(np.uint16)  # dark to light
    image = Image.fromarray(ramp)  # uint16 data: mode I;16
    assert image.mode.startswith("I;16"), image.mode
    return encode(image, "PNG")


def png_palette_with_transparency() -> bytes:
    image = photo(120, 80).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return encode(image, "PNG", transparency=0)


def png_rgba() -> bytes:
    image = photo(120, 80).convert("RGBA")
    image.putalpha(128)
    return encode(image, "PNG")


def gif_two_frames() -> bytes:
    frames = [photo(80, 60, seed=1).convert("P"), photo(80, 60, seed=2).convert("P")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100)
    return out.getvalue()


def cmyk_jpeg() -> bytes:
    return encode(photo(160, 120).convert("CMYK"), "JPEG")


def png_with_claimed_size(width: int, height: int) -> bytes:
    """A tiny valid PNG whose header claims ``width`` x ``height``: a decompression bomb."""
    data = encode(Image.new("L", (1, 1)), "PNG")
    ihdr_start = 8 + 8  # signature, then the IHDR chunk's length and type
    body = struct.pack(">II", width, height) + data[ihdr_start + 8 : ihdr_start + 13]
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + body))
    return data[:ihdr_start] + body + crc + data[ihdr_start + 17 :]
