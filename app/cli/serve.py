"""`curator serve`: the web server and one worker child, supervised together."""

from __future__ import annotations

import importlib.util
import logging
import sys
from typing import Annotated

import typer
from rich.panel import Panel

from app.cli_common import console, load_settings_or_exit, migrate_database
from app.config import Settings
from app.ops.gc_cli import gc_at_start


def web_command(host: str, port: int, workers: int) -> list[str]:
    """The uvicorn command line ``serve`` supervises."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "app.main:create_app",
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-server-header",
    ]


def worker_command() -> list[str]:
    """The worker child's command line: `curator worker` with the same interpreter."""
    return [sys.executable, "-m", "app.cli", "worker"]


def worker_extra_installed() -> bool:
    """Whether `pip install '.[worker]'` ran here: the workers import torch at the top."""
    try:
        return importlib.util.find_spec("torch") is not None
    except ImportError:  # a finder that refuses the name outright (a web-only image)
        return False


def serve(
    host: Annotated[str, typer.Option(envvar="HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PORT")] = 8000,
    web_workers: Annotated[
        int,
        typer.Option(
            envvar="WEB_WORKERS",
            min=1,
            max=32,
            help="Web server processes. One Python process uses one core; on SQLite two "
            "doubled the labeling throughput on 2 cores (BENCHMARKS.md).",
        ),
    ] = 1,
    worker: Annotated[bool, typer.Option(help="Also run one Celery worker.")] = True,
    run_migrations: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Apply migrations first.")
    ] = True,
) -> None:
    """Start the web server (and one worker child); Ctrl-C stops everything."""
    from app.supervisor import supervise

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Alembic narrates every plugin it loads at INFO; the migrations it runs are enough.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    if worker and not worker_extra_installed():
        # Without this the child dies importing torch, and the supervisor restarts it
        # until it gives up: five tracebacks instead of one sentence.
        console.print(
            "[red]This install has no worker packages[/] (torch, timm, ...): it is the web "
            "alone. Install the workers with [bold]pip install '.\\[worker]'[/], or run the "
            "web by itself with [bold]curator serve --no-worker[/] and workers elsewhere."
        )
        raise typer.Exit(2)
    settings = load_settings_or_exit()
    if run_migrations:
        migrate_database(settings)
    _bootstrap_admin(settings)
    # Orphans of a crash (files written, rows never committed); young ones are kept.
    gc_at_start(settings)
    commands = {"web": web_command(host, port, web_workers)}
    if worker:
        commands["worker"] = worker_command()
    console.print(f"Curator on [bold]http://{host}:{port}/[/]  (Ctrl-C stops)")
    raise typer.Exit(supervise(commands))


def _bootstrap_admin(settings: Settings) -> None:
    from app.auth import service
    from app.db import make_engine, make_sessionmaker

    engine = make_engine(settings.resolved_database_url)
    given = settings.admin_password.get_secret_value() if settings.admin_password else None
    try:
        with make_sessionmaker(engine)() as session, session.begin():
            created = service.ensure_admin(session, given)
    finally:
        engine.dispose()
    if created is None:
        return
    if given:
        console.print("Created user [bold]admin[/] with the password from CURATOR_ADMIN_PASSWORD.")
    else:
        console.print(
            Panel(
                f"Created user [bold]admin[/] with password [bold]{created[1]}[/]\n"
                "It is shown only this once: log in and keep it somewhere safe.",
                title="First start",
            )
        )
