"""The category palette, made by scripts/make_palette.py with glasbey (do not edit by
hand; rerun the script)."""

PALETTE_DATA: tuple[str, ...] = (
    "#d62b27",
    "#8954fe",
    "#0c910d",
    "#a86180",
    "#bb10ef",
    "#587da5",
    "#7f7b34",
    "#fe3d82",
    "#b35d0b",
    "#308980",
    "#d20695",
    "#816ea8",
    "#037ef7",
    "#288d57",
    "#b4584d",
    "#b360b4",
    "#ba824c",
    "#c5416a",
    "#d517cf",
    "#098da4",
    "#a363d9",
    "#a67500",
    "#6d8e18",
    "#d5697c",
)
