"""`curator gc`: list (or with --delete, remove) the data dir's orphan files."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.table import Table

from app.blobs import StoreUnavailable, open_store
from app.blobs.local import FileStore
from app.cli_common import console, err_console, load_settings_or_exit
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.ops.gc import Result, collect

log = logging.getLogger("curator.gc")


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def run_gc(settings: Settings, *, min_age: float, delete: bool) -> Result:
    store = open_store(settings)
    # The data dir's own file:// store is walked as files (links are never followed).
    local = isinstance(store, FileStore) and store.root == settings.data_dir.resolve()
    engine = make_engine(settings.resolved_database_url)
    try:
        return collect(
            make_sessionmaker(engine),
            settings.data_dir,
            min_age=min_age,
            delete=delete,
            store=None if local else store,
        )
    finally:
        engine.dispose()


def gc_at_start(settings: Settings) -> None:
    """`curator serve` removes old orphans before it starts; a failure never stops it."""
    try:
        result = run_gc(settings, min_age=settings.gc_min_age, delete=True)
    except Exception:
        log.exception("Could not look for orphan files; starting anyway.")
        return
    if result.deleted:
        size = sum(o.size for o in result.deleted)
        log.info(
            "Removed %d orphan files (%s) that no row names.",
            len(result.deleted),
            human_bytes(size),
        )
    for error in result.errors:
        log.warning("Could not remove an orphan file: %s", error)


def _print(result: Result, settings: Settings, min_age: float, delete: bool) -> None:
    base = settings.data_dir.resolve()
    if not delete:
        for orphan in result.orphans:
            # One path per line, never wrapped: the list is for scripts as much as for eyes.
            console.print(
                orphan.key or str(orphan.path.relative_to(base)), highlight=False, soft_wrap=True
            )
    shown = result.deleted if delete else result.orphans
    table = Table(title=f"Orphan files older than {min_age:g} s", title_justify="left")
    table.add_column("kind")
    table.add_column("files", justify="right")
    table.add_column("bytes", justify="right")
    for kind, (count, size) in result.totals(shown).items():
        table.add_row(kind, str(count), human_bytes(size))
    total = sum(o.size for o in shown)
    table.add_row("total", str(len(shown)), human_bytes(total), style="bold")
    console.print(table)
    if result.young:
        console.print(f"{result.young} unnamed files are younger than that and were kept.")
    if delete:
        console.print(f"Deleted {len(result.deleted)} files, freed {human_bytes(total)}.")
    elif result.orphans:
        console.print("Dry run: nothing was deleted. Run `curator gc --delete` to remove them.")
    for error in result.errors:
        err_console.print(f"[bold red]Could not delete[/] {error}")


def gc_command(
    delete: Annotated[
        bool, typer.Option("--delete", help="Remove the files (default: only list them).")
    ] = False,
    min_age: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Only files older than this, in seconds (default CURATOR_GC_MIN_AGE, one "
            "hour): younger ones may belong to an import still running.",
        ),
    ] = None,
) -> None:
    """List the data dir's files that no row names (orphans of a crash); --delete removes them."""
    settings = load_settings_or_exit()
    age = settings.gc_min_age if min_age is None else min_age
    try:
        result = run_gc(settings, min_age=age, delete=delete)
    except StoreUnavailable as exc:
        err_console.print(f"[bold red]Error:[/] {exc}. Nothing was deleted.")
        raise typer.Exit(1) from None
    _print(result, settings, age, delete)
    raise typer.Exit(1 if result.errors else 0)
