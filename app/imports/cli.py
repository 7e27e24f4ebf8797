"""`curator import PROJECT DIR`: registered on the main CLI by ``app.cli``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def import_command(
    project: Annotated[str, typer.Argument(help="The project's name or id.")],
    directory: Annotated[
        Path, typer.Argument(exists=True, file_okay=False, readable=True, help="Folder to import.")
    ],
    labels_from_folders: Annotated[
        bool,
        typer.Option(help="ImageFolder layout: DIR/<category>/<sub>/img.jpg labels each image."),
    ] = False,
    labels_csv: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="Then apply labels from a file: CSV rows filename,category_path (filename "
            "as imported, relative to DIR), an export's labels.csv (matched on sha256), "
            "or a COCO json. Default: the one labels.csv or .json at the top of DIR, as in "
            "an unpacked export.",
        ),
    ] = None,
    user: Annotated[
        str, typer.Option(help="Whose import (and imported labels) this is.")
    ] = "admin",
    workers: Annotated[int, typer.Option(min=1, max=64, help="Decoding processes.")] = (
        os.cpu_count() or 1
    ),
) -> None:
    """Import a folder of images; run it again to resume: what is in is skipped."""
    from app.auth.service import find_user
    from app.blobs import StoreUnavailable
    from app.broker import make_celery
    from app.cli_common import load_settings_or_exit, migrate_database
    from app.db import make_engine, make_sessionmaker
    from app.errors import DomainError
    from app.imports import labels_csv as csv_labels
    from app.imports.folder_import import import_folder, labels_files
    from app.projects.service import find_project

    if labels_csv is None:
        # An unpacked export carries its labels beside the images, as a zip upload does.
        found = labels_files(directory)
        if len(found) > 1:
            err_console.print(
                f"[bold red]Error:[/] {len(found)} labels files at the top of {directory} "
                f"({', '.join(p.name for p in found)}); choose one with --labels-csv."
            )
            raise typer.Exit(1)
        labels_csv = found[0] if found else None
    settings = load_settings_or_exit()
    migrate_database(settings)
    engine = make_engine(settings.resolved_database_url)
    sessions = make_sessionmaker(engine)
    try:
        with sessions() as session:
            target = find_project(session, project)
            if target.archived:
                raise DomainError(f"The project {target.name!r} is archived; restore it first.")
            importer = find_user(session, user)
            if importer is None:
                raise DomainError(f"No user {user!r}; name one with --user.")
        progress = Progress(
            TextColumn("[bold]Importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files"),
            TimeRemainingColumn(),
            console=console,
        )
        with progress:
            task = progress.add_task("import", total=None)
            batch, summary = import_folder(
                sessions,
                settings,
                target.id,
                importer.id,
                directory.resolve(),
                labels_from_folders=labels_from_folders,
                workers=workers,
                on_start=lambda total: progress.update(task, total=total),
                on_progress=lambda done: progress.advance(task, done),
                celery=make_celery(settings),
            )
        console.print(
            f"Import #{batch.id} into [bold]{target.name}[/]: {len(summary.imported)} imported, "
            f"{len(summary.duplicates)} already in (skipped), {len(summary.errors)} errors, "
            f"{summary.labeled} labeled."
        )
        for name, error in summary.errors[:20]:
            err_console.print(f"  [red]{name}[/]: {error}")
        if len(summary.errors) > 20:
            err_console.print(
                f"  ... and {len(summary.errors) - 20} more (see import #{batch.id})."
            )
        if labels_csv is not None:
            with sessions() as session, session.begin():
                result = csv_labels.apply(
                    session, session.get_one(type(target), target.id), importer.id,
                    labels_csv.read_bytes(),
                )  # fmt: skip
            console.print(
                f"Labels from {labels_csv.name}: {result.applied} applied, "
                f"{result.unchanged} unchanged, {len(result.errors)} errors."
            )
            for message in result.messages()[:20]:
                err_console.print(f"  [red]{message}[/]")
    except DomainError as exc:
        err_console.print(f"[bold red]Error:[/] {exc.detail}")
        raise typer.Exit(1) from None
    except StoreUnavailable as exc:
        err_console.print(f"[bold red]Error:[/] {exc} Run the import again once it is back.")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
