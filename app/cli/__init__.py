"""The ``curator`` command: one typer app; each group of commands has its own module.

The commands kept with their domain (import, export, backup, restore, gc) are registered
here and import nothing from this package, so the imports run one way.
"""

from __future__ import annotations

import typer

from app.cli.admin import createuser, migrate
from app.cli.health import healthcheck
from app.cli.serve import serve
from app.cli.worker import worker
from app.exports.cli import export_command
from app.imports.cli import import_command
from app.ops.cli import backup_command, restore_command
from app.ops.gc_cli import gc_command
from app.ops.storage_cli import storage_cli

cli = typer.Typer(help="Curator: curate image training sets.", no_args_is_help=True)
cli.command()(migrate)
cli.command()(createuser)
cli.command()(serve)
cli.command()(worker)
cli.command()(healthcheck)
cli.command("import")(import_command)
cli.command("export")(export_command)
cli.command("backup")(backup_command)
cli.command("restore")(restore_command)
cli.command("gc")(gc_command)
cli.add_typer(storage_cli, name="storage")


def main() -> None:
    cli()
