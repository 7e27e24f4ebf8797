"""`curator healthcheck web|worker`: exit 0 if it answers (for container checks)."""

from __future__ import annotations

import urllib.request
from typing import Annotated

import typer

from app.cli.nodes import parse_queues, worker_node_name
from app.cli_common import console, err_console, load_settings_or_exit


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

        settings = load_settings_or_exit()
        chosen = parse_queues(queues or settings.worker_queues)
        replies = make_celery(settings).control.ping(
            destination=[worker_node_name(chosen)], timeout=timeout
        )
        ok = bool(replies)
    else:
        err_console.print("Choose 'web' or 'worker'.")
        raise typer.Exit(2)
    console.print("ok" if ok else "unhealthy")
    raise typer.Exit(0 if ok else 1)
