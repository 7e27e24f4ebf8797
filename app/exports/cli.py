"""`curator export PROJECT OUT`: registered on the main CLI by ``app.cli``."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from app.cli_common import console, err_console, fail, load_settings_or_exit, migrate_database
from app.exports.options import DEFAULT_RATIOS, Format


def export_command(
    project: Annotated[str, typer.Argument(help="The project's name or id.")],
    out: Annotated[
        Path, typer.Argument(help="The zip to write; a folder gets <project>-<format>.zip.")
    ],
    format: Annotated[Format, typer.Option(help="imagefolder, csv or coco.")] = "imagefolder",
    level: Annotated[
        int | None, typer.Option(min=1, help="1 = the roots; deeper labels roll up to it.")
    ] = None,
    split: Annotated[bool, typer.Option(help="Add a stratified train/val/test split.")] = False,
    ratios: Annotated[str, typer.Option(help="train,val,test, summing to 1.")] = DEFAULT_RATIOS,
    seed: Annotated[int, typer.Option(help="Seed of the split.")] = 0,
    images: Annotated[bool, typer.Option(help="csv and coco: include the image files.")] = True,
) -> None:
    """Export a project's labeled images (never the rejected) as a zip with a manifest."""
    from app.blobs import open_store
    from app.db import make_engine, make_sessionmaker
    from app.errors import DomainError
    from app.exports import service, writers
    from app.exports.manifest import Tally
    from app.exports.options import make_options
    from app.images.storage import ImageStore
    from app.projects.service import find_project

    settings = load_settings_or_exit()
    try:
        options = make_options(format, level, split, ratios, seed, images)
    except DomainError as exc:
        fail(exc.detail)
    migrate_database(settings)
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_sessionmaker(engine)() as session:
            target = find_project(session, project)
            plan = service.build_plan(session, target, options)
            tally = Tally()
            path = out / writers.download_name(target, options) if out.is_dir() else out
            progress = Progress(
                TextColumn("[bold]Exporting"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("images"),
                TimeRemainingColumn(),
                console=console,
            )
            with _atomic(path) as sink, progress:
                task = progress.add_task("export", total=plan.total)
                chunks = writers.stream_export(
                    session,
                    plan,
                    ImageStore(open_store(settings)),
                    lambda: progress.advance(task),
                    tally,
                )
                for chunk in chunks:
                    sink.write(chunk)
    except DomainError as exc:
        fail(exc.detail)
    except OSError as exc:
        fail(f"cannot write {str(out)!r}: {exc.strerror or exc}")
    finally:
        engine.dispose()
    console.print(f"Exported {tally.total} images to [bold]{path}[/].")
    if tally.missing_files:
        err_console.print(
            f"[yellow]{tally.missing_files} image(s) left out: their files are missing "
            "from the data dir (listed in the log; counted in manifest.json)."
        )


@contextmanager
def _atomic(path: Path) -> Iterator[IO[bytes]]:
    """A file that appears at ``path`` only once complete: never half an export."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as sink:
            yield sink
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
