"""`curator worker`: the only command that reaches into ``workers`` (and with it torch)."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.nodes import parse_queues, worker_node_name
from app.cli_common import load_settings_or_exit


def worker(
    queues: Annotated[
        str | None, typer.Option(help="Comma-separated; default CURATOR_WORKER_QUEUES.")
    ] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, max=64)] = None,
    loglevel: Annotated[str, typer.Option()] = "INFO",
) -> None:
    """Start a Celery worker. More workers anywhere on the same broker share the work."""
    settings = load_settings_or_exit()
    chosen = parse_queues(queues or settings.worker_queues)
    # Imported here: every other command starts without the ML stack.
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
