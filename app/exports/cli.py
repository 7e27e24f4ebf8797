"""`curator export PROJECT OUT`: registered on the main CLI in app/cli.py."""

from __future__ import annotations


def export_command() -> None:
    """Export a project's training set (not written yet)."""
    raise NotImplementedError
