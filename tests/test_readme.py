"""The README stays true: two commands, and a row for every setting."""

from __future__ import annotations

import re

from app.config import Settings
from app.paths import ROOT


def test_readme_lists_every_setting_and_no_stale_one() -> None:
    text = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `CURATOR_([A-Z0-9_]+)` \|", text, flags=re.M))
    assert documented == {name.upper() for name in Settings.model_fields}


def test_quick_start_is_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("##", 1)[0]
    block = quick.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make run", "make test"]
