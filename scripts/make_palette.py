"""Regenerate the category palette in app/taxonomy/palette_data.py with glasbey.

    .venv/bin/python scripts/make_palette.py > app/taxonomy/palette_data.py

glasbey is heavy to import (numba, scipy; most of a minute on the 2-core box), so the web
never imports it: this script writes the colours once, and tests/taxonomy/test_palette.py
checks the committed ones (distinct, and 3:1 against the light and the dark cards).

Lightness is held to a middle band so every colour stands out at 3:1 from both the light
card (#ffffff) and the dark one (#1e2228): a dot is a graphic that must be seen.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZE = 24
LIGHTNESS = (40.0, 56.0)  # CAM02-UCS J
CHROMA = (35.0, 85.0)


def make() -> list[str]:
    import glasbey  # heavy, and only here

    from app.taxonomy.palette import readable  # after the path is set

    # More than needed, then only those readable on both themes, in glasbey's order
    # (each next colour is the one farthest from those before it).
    colours = glasbey.create_palette(
        palette_size=SIZE * 2,
        lightness_bounds=LIGHTNESS,
        chroma_bounds=CHROMA,
        grid_space="JCh",
        grid_size=(32, 32, 64),
    )
    kept = [str(c).lower() for c in colours if readable(str(c).lower())]
    if len(kept) < SIZE:
        raise SystemExit(f"only {len(kept)} readable colours; widen the bounds")
    return kept[:SIZE]


def render(colours: list[str]) -> str:
    rows = "\n".join(f'    "{c}",' for c in colours)
    return (
        '"""The category palette, made by scripts/make_palette.py with glasbey (do not edit by\n'
        'hand; rerun the script)."""\n\n'
        f"PALETTE_DATA: tuple[str, ...] = (\n{rows}\n)\n"
    )


if __name__ == "__main__":
    sys.stdout.write(render(make()))
