"""A worker's queues and node name: what `worker` starts and `healthcheck worker` pings."""

from __future__ import annotations

import socket

import typer

from app.cli_common import err_console
from app.task_names import QUEUES


def worker_node_name(queues: list[str]) -> str:
    """One name per queue set and host, so the healthcheck can ping exactly this worker."""
    return f"curator-{'-'.join(queues)}@{socket.gethostname()}"


def parse_queues(text: str) -> list[str]:
    """The queues named in ``text`` (comma-separated); exit status 2 on an unknown one."""
    chosen = [q.strip() for q in text.split(",") if q.strip()]
    unknown = sorted(set(chosen) - set(QUEUES))
    if unknown or not chosen:
        err_console.print(f"[bold red]Unknown queue(s):[/] {unknown}; choose from {list(QUEUES)}.")
        raise typer.Exit(2)
    return chosen
