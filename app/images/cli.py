"""`curator import PROJECT DIR`: registered on the main CLI in app/cli.py."""

from __future__ import annotations


def import_command() -> None:
    """Import a folder of images (not written yet)."""
    raise NotImplementedError
