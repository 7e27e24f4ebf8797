"""Processes as /proc shows them (no extra dependency): descendants, liveness, commands."""

from __future__ import annotations

from pathlib import Path


def _stat_fields(pid: int | str) -> list[str]:
    # The command name may hold spaces and parentheses; the fields after its last ")" not.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def children_of(pid: int) -> set[int]:
    """Every live descendant of ``pid``."""
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        parent = frontier.pop()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = int(_stat_fields(entry.name)[1])
            except (OSError, IndexError):
                continue
            if ppid == parent and int(entry.name) not in found:
                found.add(int(entry.name))
                frontier.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        return _stat_fields(pid)[0] != "Z"
    except (OSError, IndexError):
        return False


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def direct_child(pid: int, marker: str) -> int | None:
    """The live child of ``pid`` whose command line contains ``marker``, if any."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields(entry.name)
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z" and marker in command_line(int(entry.name)):
            return int(entry.name)
    return None
