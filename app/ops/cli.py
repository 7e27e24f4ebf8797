"""`curator backup FILE` and `curator restore FILE`: registered on the main CLI by ``app.cli``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
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


def _one_of(file: Path | None, name: str | None, option: str) -> None:
    if (file is None) == (name is None):
        fail(f"give either FILE or {option} NAME (one of the two)")


def backup_command(
    file: Annotated[
        Path | None,
        typer.Argument(help="The archive to write: .tar, or .tar.gz to compress."),
    ] = None,
    to_store: Annotated[
        str | None,
        typer.Option(
            "--to-store",
            metavar="NAME",
            help="Instead of FILE: keep the archive in the store (CURATOR_STORAGE_URL) as "
            "backups/NAME, e.g. curator-2026-12-05.tar.gz.",
        ),
    ] = None,
) -> None:
    """Back up the database and every stored file into one archive, while the server runs."""
    from app.ops.archive_format import ArchiveError
    from app.ops.backup import BackupError, backup
    from app.ops.snapshot import SnapshotError
    from app.ops.stored_backups import backup_to_store

    _one_of(file, to_store, "--to-store")
    settings = _settings()
    try:
        with _progress("Backing up") as (on_plan, advance):
            if file is None:  # then --to-store was given (_one_of)
                result, key = backup_to_store(settings, to_store or "", on_plan, advance)
                where = f"{key} in {settings.storage_url}"
            else:
                result = backup(settings, file, on_plan, advance)
                where = str(result.path)
    except (BackupError, SnapshotError, ArchiveError) as exc:
        fail(str(exc))
    rows = sum(result.tables.values())
    console.print(
        f"Backed up {rows} rows and {result.files} files ({result.bytes / 2**20:.1f} MiB) "
        f"to [bold]{where}[/]."
    )
    if settings.secret_key is not None:
        err_console.print(
            "[yellow]The secret key comes from CURATOR_SECRET_KEY, so it is not in the "
            "archive: keep it with the backup."
        )


def restore_command(
    file: Annotated[
        Path | None, typer.Argument(help="An archive written by `curator backup`.")
    ] = None,
    from_store: Annotated[
        str | None,
        typer.Option(
            "--from-store",
            metavar="NAME",
            help="Instead of FILE: the archive backups/NAME in the store (CURATOR_STORAGE_URL).",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace a data dir and database that are not empty (stop the server)."
        ),
    ] = False,
) -> None:
    """Restore a backup into an empty data dir and database, then run the migrations."""
    from app.ops.archive_format import ArchiveError
    from app.ops.backup import BackupError
    from app.ops.restore import restore
    from app.ops.stored_backups import fetched
    from app.ops.target import TargetError

    _one_of(file, from_store, "--from-store")
    settings = _settings()
    try:
        with ExitStack() as stack:
            # Without FILE, --from-store was given (_one_of).
            archive = file or stack.enter_context(fetched(settings, from_store or ""))
            on_plan, advance = stack.enter_context(_progress("Restoring"))
            result = restore(settings, archive, force, on_plan, advance)
    except BackupError as exc:
        fail(str(exc))
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
