"""`curator storage migrate --to s3://…`: registered on the main CLI by ``app.cli``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from app.cli_common import console, err_console, fail, load_settings_or_exit

storage_cli = typer.Typer(help="The store that holds the files (CURATOR_STORAGE_URL).")


@storage_cli.command("migrate")
def migrate_command(
    to: Annotated[
        str,
        typer.Option("--to", help="The bucket to copy into: s3://bucket or s3://bucket/prefix."),
    ],
    jobs: Annotated[int, typer.Option(min=1, max=32, help="Files copied at the same time.")] = 4,
) -> None:
    """Copy this file:// install's files into a bucket, verified by sha256; resumable."""
    from app.blobs import StoreUnavailable, open_store
    from app.blobs.local import FileStore
    from app.ops.storage_migrate import MigrateError, Plan, check_target, migrate

    settings = load_settings_or_exit()
    try:
        url = check_target(to)
    except MigrateError as exc:
        fail(str(exc))
    source = open_store(settings)
    if not isinstance(source, FileStore):
        fail(
            f"this install's files are in {source.url} already (CURATOR_STORAGE_URL); "
            "migrate copies a file:// install"
        )
    try:
        target = open_store(settings.model_copy(update={"storage_url": url}))
    except ValueError as exc:
        fail(str(exc))
    bar = Progress(
        TextColumn("[bold]Copying"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeRemainingColumn(),
        console=err_console,
    )
    task = bar.add_task("copy", total=None, counts="")
    seen = {"files": 0, "done": 0, "copied": 0, "kept": 0}

    def on_plan(work: Plan) -> None:
        seen["files"] = len(work.files)
        bar.update(task, total=work.bytes, counts=f"0/{seen['files']} files")
        bar.start()

    def advance(size: int, outcome: str) -> None:
        seen["done"] += 1
        if outcome in ("copied", "kept"):
            seen[outcome] += 1
        bar.update(
            task,
            advance=size,
            counts=f"{seen['done']}/{seen['files']} files ({seen['copied']} copied, "
            f"{seen['kept']} already there)",
        )

    try:
        with bar:
            result = migrate(source, target, jobs=jobs, on_plan=on_plan, advance=advance)
    except StoreUnavailable as exc:
        fail(f"{exc}. Nothing in the data dir was changed; run the migration again later.")
    for key in result.skipped:
        err_console.print(f"[yellow]Not copied[/] {key}: not a file Curator names (a leftover).")
    for problem in result.failed:
        err_console.print(f"[bold red]Failed[/] {problem}")
    console.print(
        f"Copied {result.copied} files ({result.bytes / 2**20:.1f} MiB); {result.kept} were "
        "in the bucket already with the same sha256."
    )
    if result.failed:
        fail(f"{len(result.failed)} file(s) could not be verified; run the migration again.")
    endpoint = settings.s3_endpoint_url
    console.print("Every file is in the bucket, verified by sha256. Now set, and restart:")
    console.print(f"  CURATOR_STORAGE_URL={url}", highlight=False)
    if endpoint:
        console.print(f"  CURATOR_S3_ENDPOINT_URL={endpoint}", highlight=False)
