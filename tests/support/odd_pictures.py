"""Pictures that do not belong in a flower set, made offline and deterministically.

Shared by the outlier tests and ``bench/outliers.py``: noise frames, flat colours,
gradients, rendered text (a screenshot's look) and photos of other subjects
(scikit-image's bundled samples, which need no download), each cropped differently so
no two are the same file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SIZE = 224
KINDS = ("noise", "flat", "gradient", "text", "photo")
PHOTOS = [
    "astronaut",
    "camera",
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "retina",
    "page",
    "text",
    "horse",
    "coins",
    "moon",
    "clock",
    "grass",
    "gravel",
    "brick",
    "immunohistochemistry",
]
WORDS = [
    "invoice",
    "total",
    "amount",
    "due",
    "settings",
    "profile",
    "logout",
    "error",
    "warning",
    "build",
    "passed",
    "failed",
    "report",
    "quarterly",
    "figures",
    "meeting",
    "agenda",
    "notes",
    "draft",
    "version",
    "release",
]


def _noise(rng: np.random.Generator) -> Image.Image:
    # Different grains and spectra: pixel noise, coarse blocks, grey sensor noise.
    block = int(rng.choice([1, 2, 4, 8, 16]))
    side = SIZE // block
    if rng.random() < 0.3:
        grey = rng.normal(128, rng.uniform(20, 80), size=(side, side, 1)).clip(0, 255)
        arr = np.repeat(grey, 3, axis=2)
    else:
        arr = rng.integers(0, 256, size=(side, side, 3)).astype(float)
    img = Image.fromarray(arr.astype(np.uint8))
    return img.resize((SIZE, SIZE), Image.Resampling.NEAREST)


def _flat(rng: np.random.Generator) -> Image.Image:
    colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
    return Image.new("RGB", (SIZE, SIZE), colour)


def _gradient(rng: np.random.Generator) -> Image.Image:
    a, b = rng.integers(0, 256, size=(2, 3)).astype(float)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1)
    if rng.random() < 0.3:
        t = np.hypot(xx - rng.random(), yy - rng.random()).clip(0, 1)  # radial
    else:
        angle = rng.uniform(0, 2 * np.pi)
        t = xx * np.cos(angle) + yy * np.sin(angle)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    arr = a[None, None, :] * (1 - t[..., None]) + b[None, None, :] * t[..., None]
    return Image.fromarray(arr.astype(np.uint8))


def _text(rng: np.random.Generator) -> Image.Image:
    light = rng.random() < 0.7
    shade = rng.integers(200, 256, 3) if light else rng.integers(0, 60, 3)
    background = (int(shade[0]), int(shade[1]), int(shade[2]))
    ink = (20, 20, 20) if light else (230, 230, 230)
    img = Image.new("RGB", (SIZE, SIZE), background)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=int(rng.integers(12, 28)))
    y = int(rng.integers(2, 20))
    while y < SIZE - 10:
        line = " ".join(rng.choice(WORDS, size=int(rng.integers(2, 6))))
        draw.text((int(rng.integers(2, 30)), y), line, fill=ink, font=font)
        y += int(rng.integers(18, 40))
    return img


def _photo(rng: np.random.Generator, n: int) -> Image.Image:
    import skimage.data  # dev dependency: only the tests and the bench need it

    arr = getattr(skimage.data, PHOTOS[n % len(PHOTOS)])()
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    h, w = arr.shape[:2]
    # A different square crop each time round the list: distinct pictures.
    side = int(min(h, w) * rng.uniform(0.5, 1.0))
    top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = Image.fromarray(arr[top : top + side, left : left + side, :3])
    return crop.resize((SIZE, SIZE), Image.Resampling.BILINEAR)


MAKERS: dict[str, Callable[[np.random.Generator, int], Image.Image]] = {
    "noise": lambda rng, n: _noise(rng),
    "flat": lambda rng, n: _flat(rng),
    "gradient": lambda rng, n: _gradient(rng),
    "text": lambda rng, n: _text(rng),
    "photo": _photo,
}


def make(kind: str, n: int, seed: int = 0) -> Image.Image:
    """The ``n``-th picture of a kind; the same (kind, n, seed) gives the same picture."""
    rng = np.random.default_rng([seed, KINDS.index(kind), n])
    return MAKERS[kind](rng, n)


def write(folder: Path, kind: str, count: int, seed: int = 0) -> list[Path]:
    """``count`` pictures of a kind as PNG files in ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        path = folder / f"{kind}-{seed}-{n:03d}.png"
        if not path.exists():
            make(kind, n, seed).save(path)
        paths.append(path)
    return paths
