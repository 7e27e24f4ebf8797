"""`curator backup FILE` and `curator restore FILE`: registered on the main CLI by ``app.cli``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from app.cli_common import console, err_console, fail
from app.config import Settings, SettingsError, load_settings


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        # Exit status 1 with the error, as for every other refusal of these two commands.
        fail(str(exc))


@contextmanager
def _progress(verb: str) -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    """(on_plan, advance) callbacks driving one byte-counting progress bar."""
    bar = Progress(
        TextColumn(f"[bold]{verb}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
    )
    task = bar.add_task(verb, total=None)

    def on_plan(total: int) -> None:
        # Shown only once there is work to show: a refusal prints no empty bar.
        bar.update(task, total=total)
        bar.start()

    try:
        yield on_plan, lambda n: bar.advance(task, n)
    finally:
        bar.stop()


def backup_command(
    file: Annotated[
        Path, typer.Argument(help="The archive to write: .tar, or .tar.gz to compress.")
    ],
) -> None:
    """Back up the database and every stored file into one archive, while the server runs."""
    from app.ops.archive_format import ArchiveError
    from app.ops.backup import BackupError, backup
    from app.ops.snapshot import SnapshotError

    settings = _settings()
    try:
        with _progress("Backing up") as (on_plan, advance):
            result = backup(settings, file, on_plan, advance)
    except (BackupError, SnapshotError, ArchiveError) as exc:
        fail(str(exc))
    rows = sum(result.tables.values())
    console.print(
        f"Backed up {rows} rows and {result.files} files ({result.bytes / 2**20:.1f} MiB) "
        f"to [bold]{result.path}[/]."
    )
    if settings.secret_key is not None:
        err_console.print(
            "[yellow]The secret key comes from CURATOR_SECRET_KEY, so it is not in the "
            "archive: keep it with the backup."
        )


def restore_command(
    file: Annotated[Path, typer.Argument(help="An archive written by `curator backup`.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace a data dir and database that are not empty (stop the server)."
        ),
    ] = False,
) -> None:
    """Restore a backup into an empty data dir and database, then run the migrations."""
    from app.ops.archive_format import ArchiveError
    from app.ops.restore import restore
    from app.ops.target import TargetError

    settings = _settings()
    try:
        with _progress("Restoring") as (on_plan, advance):
            result = restore(settings, file, force, on_plan, advance)
    except ArchiveError as exc:
        fail(f"{exc}. Nothing was changed.")
    except TargetError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot restore {file}: {exc.strerror or exc}")
    console.print(
        f"Restored the backup of {result.created_at}: {sum(result.tables.values())} rows "
        f"and {result.files} files into [bold]{settings.data_dir}[/]; migrations applied."
    )
    if result.secret_key and settings.secret_key is not None:
        err_console.print(
            "[yellow]CURATOR_SECRET_KEY is set, so it is used rather than the restored key."
        )
