"""Fixtures for the pure ML tests: real flowers12 photos, odd image files, the real
offline backbone (loaded once per session)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from tests.support.datasets import FLOWERS12
from tests.support.env import require
from workers.ml.backbones import DEFAULT_BACKBONE, load_backbone

FLOWERS = FLOWERS12
CPU = torch.device("cpu")


def flowers(split: str, per_class: int, classes: int = 12) -> list[tuple[Path, str]]:
    """The first ``per_class`` photos of the first ``classes`` species, as (path, species)."""
    folder = FLOWERS / split
    require(folder.is_dir(), f"the flowers12 dataset is missing at {folder}")
    species = sorted(p for p in folder.iterdir() if p.is_dir())[:classes]
    return [(path, s.name) for s in species for path in sorted(s.glob("*.jpg"))[:per_class]]


@pytest.fixture(scope="session")
def lite0() -> nn.Module:
    return load_backbone(DEFAULT_BACKBONE, CPU)


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tests' own ONNX cache: never the machine's shared one."""
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="session")
def odd_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files a real upload folder contains besides plain RGB JPEGs."""
    folder = tmp_path_factory.mktemp("odd")
    rng = np.random.default_rng(0)
    out: dict[str, Path] = {}

    rgba = np.zeros((120, 160, 4), dtype=np.uint8)
    rgba[:, :80] = (200, 30, 30, 255)  # opaque red on the left, transparent on the right
    out["rgba_png"] = folder / "alpha.png"
    Image.fromarray(rgba).save(out["rgba_png"])

    wide = (np.linspace(0, 4000, 300 * 200).reshape(200, 300)).astype(np.uint16)
    out["gray16_png"] = folder / "gray16.png"
    Image.fromarray(wide).save(out["gray16_png"])

    out["gray_jpg"] = folder / "gray.jpg"
    Image.fromarray(rng.integers(0, 255, (180, 240), dtype=np.uint8)).save(out["gray_jpg"])

    out["cmyk_jpg"] = folder / "cmyk.jpg"
    Image.new("CMYK", (200, 150), (0, 255, 255, 0)).save(out["cmyk_jpg"])

    out["palette_gif"] = folder / "palette.gif"
    Image.new("P", (90, 60), 3).save(out["palette_gif"], transparency=3)

    out["corrupt"] = folder / "corrupt.jpg"
    out["corrupt"].write_bytes(b"this is not an image at all" * 10)

    photo = folder / "photo.jpg"
    Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(photo, quality=90)
    out["truncated_jpg"] = folder / "truncated.jpg"
    out["truncated_jpg"].write_bytes(photo.read_bytes()[:2000])

    out["missing"] = folder / "never-written.jpg"
    return out
