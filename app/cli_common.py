"""What every ``curator`` command shares: the consoles, the settings, an up-to-date database.

It sits below the domains, beside ``app.config``, and not inside ``app.cli``: the commands
kept with their domain (import, export, backup, restore, gc) use it, and ``app.cli``
imports those commands to register them, so a helper inside ``app.cli`` would close a
circle.
"""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

from app.config import Settings, SettingsError, load_settings

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def load_settings_or_exit() -> Settings:
    """The settings, or a clear message and exit status 2 when they cannot be used."""
    try:
        return load_settings()
    except SettingsError as exc:
        err_console.print(f"[bold red]Cannot start:[/] {exc}")
        raise typer.Exit(2) from None


def migrate_database(settings: Settings) -> None:
    """Make the data dir and bring the database's schema up to date."""
    # Alembic loads only for the commands that touch the database.
    from app.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)


def fail(message: str) -> NoReturn:
    """Say what went wrong on stderr and exit with status 1."""
    err_console.print(f"[bold red]Error:[/] {message}")
    raise typer.Exit(1)
