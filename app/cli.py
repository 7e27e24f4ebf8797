"""The ``curator`` command: serve, worker, migrate, createuser, healthcheck."""

from __future__ import annotations

import logging
import socket
import sys
import urllib.request
from typing import Annotated

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.panel import Panel

from app.auth.models import Role
from app.config import Settings, SettingsError, load_settings
from app.exports.cli import export_command
from app.imports.cli import import_command
from app.ops.cli import backup_command, restore_command
from app.ops.gc_cli import gc_at_start, gc_command
from app.validation import Password, Username

cli = typer.Typer(help="Curator: curate image training sets.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        err_console.print(f"[bold red]Cannot start:[/] {exc}")
        raise typer.Exit(2) from None


def _migrate(settings: Settings) -> None:
    from app.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)


def worker_node_name(queues: list[str]) -> str:
    """One name per queue set and host, so the healthcheck can ping exactly this worker."""
    return f"curator-{'-'.join(queues)}@{socket.gethostname()}"


def _parse_queues(text: str) -> list[str]:
    from app.broker import QUEUES

    chosen = [q.strip() for q in text.split(",") if q.strip()]
    unknown = sorted(set(chosen) - set(QUEUES))
    if unknown or not chosen:
        err_console.print(f"[bold red]Unknown queue(s):[/] {unknown}; choose from {list(QUEUES)}.")
        raise typer.Exit(2)
    return chosen


@cli.command()
def migrate() -> None:
    """Apply the database migrations (also done by `serve`)."""
    _migrate(_settings())
    console.print("Database is up to date.")


@cli.command()
def createuser(
    username: Annotated[str, typer.Argument(help="Login name.")],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="8+ chars.")
    ],
    role: Annotated[Role, typer.Option(help="admin, manager or labeler.")] = Role.labeler,
) -> None:
    """Create a user non-interactively; works before the server has ever run."""
    from app.auth import service
    from app.db import make_engine, make_sessionmaker
    from app.errors import DomainError

    try:
        name = TypeAdapter(Username).validate_python(username)
        secret = TypeAdapter(Password).validate_python(password)
    except ValidationError as exc:
        err_console.print(f"[bold red]Invalid input:[/] {exc.errors()[0]['msg']}")
        raise typer.Exit(1) from None
    settings = _settings()
    _migrate(settings)
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_sessionmaker(engine)() as session, session.begin():
            user = service.create_user(session, name, secret, role)
    except DomainError as exc:
        err_console.print(f"[bold red]Error:[/] {exc.detail}")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    console.print(f"Created {user.role} [bold]{user.username}[/].")


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


@cli.command()
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
    settings = _settings()
    if run_migrations:
        _migrate(settings)
    _bootstrap_admin(settings)
    # Orphans of a crash (files written, rows never committed); young ones are kept.
    gc_at_start(settings)
    commands = {"web": web_command(host, port, web_workers)}
    if worker:
        commands["worker"] = [sys.executable, "-m", "app.cli", "worker"]
    console.print(f"Curator on [bold]http://{host}:{port}/[/]  (Ctrl-C stops)")
    raise typer.Exit(supervise(commands))


@cli.command()
def worker(
    queues: Annotated[
        str | None, typer.Option(help="Comma-separated; default CURATOR_WORKER_QUEUES.")
    ] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, max=64)] = None,
    loglevel: Annotated[str, typer.Option()] = "INFO",
) -> None:
    """Start a Celery worker. More workers anywhere on the same broker share the work."""
    settings = _settings()
    chosen = _parse_queues(queues or settings.worker_queues)
    from workers.celery_app import celery_app

    argv = [
        "worker",
        "--queues",
        ",".join(chosen),
        "--concurrency",
        str(concurrency or settings.worker_concurrency),
        "--hostname",
        worker_node_name(chosen),
        "--loglevel",
        loglevel,
        # Mingle and gossip sync state between workers at start; not worth the delay.
        "--without-mingle",
        "--without-gossip",
    ]
    celery_app.worker_main(argv)


@cli.command()
def healthcheck(
    target: Annotated[str, typer.Argument(help="web or worker")],
    port: Annotated[int, typer.Option(envvar="PORT")] = 8000,
    queues: Annotated[
        str | None, typer.Option(help="The worker's queues, as given to `worker --queues`.")
    ] = None,
    timeout: Annotated[float, typer.Option()] = 5.0,
) -> None:
    """Exit 0 if the local web server, or this host's worker, answers (for container checks)."""
    if target == "web":
        url = f"http://127.0.0.1:{port}/api/v1/health"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                ok = resp.status == 200
        except OSError:
            ok = False
    elif target == "worker":
        from app.broker import make_celery

        settings = _settings()
        chosen = _parse_queues(queues or settings.worker_queues)
        replies = make_celery(settings).control.ping(
            destination=[worker_node_name(chosen)], timeout=timeout
        )
        ok = bool(replies)
    else:
        err_console.print("Choose 'web' or 'worker'.")
        raise typer.Exit(2)
    console.print("ok" if ok else "unhealthy")
    raise typer.Exit(0 if ok else 1)


# Commands with their own module, so this file stays the process-level ones.
cli.command("import")(import_command)
cli.command("export")(export_command)
cli.command("backup")(backup_command)
cli.command("restore")(restore_command)
cli.command("gc")(gc_command)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
