"""pg_dump and pg_restore as subprocesses, for the database a SQLAlchemy URL names.

Credentials reach them through libpq's environment variables, never the command line,
where any user of the machine could read them in the process list. The tools must be at
least as new as the server, so the one matching the server's major version is preferred.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from app.ops.archive_format import ArchiveError

_PG_LIB = Path("/usr/lib/postgresql")
# URL query parameters libpq also reads from the environment.
_QUERY_ENV = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "options": "PGOPTIONS",
    "host": "PGHOST",
    "port": "PGPORT",
}


class ToolError(RuntimeError):
    """A PostgreSQL tool is missing or failed; the message says which and why."""


def server_major(conn: Connection) -> int:
    return int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000


def _version(binary: Path) -> int:
    out = subprocess.run(  # noqa: S603 - a PostgreSQL tool found on this machine
        [str(binary), "--version"], capture_output=True, text=True, check=False, timeout=30
    ).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(match.group(1)) if match else 0


def find_tool(name: str, major: int) -> Path:
    """``name`` for this server: its own version's, else the newest that is newer."""
    candidates: list[tuple[int, Path]] = []
    if _PG_LIB.is_dir():
        for folder in _PG_LIB.iterdir():
            binary = folder / "bin" / name
            if folder.name.isdigit() and binary.is_file():
                candidates.append((int(folder.name), binary))
    on_path = shutil.which(name)
    if on_path:
        candidates.append((_version(Path(on_path)), Path(on_path)))
    exact = [path for version, path in candidates if version == major]
    if exact:
        return exact[0]
    newer = sorted((v, p) for v, p in candidates if v > major)
    if newer:
        return newer[-1][1]
    found = ", ".join(f"{p} ({v})" for v, p in candidates) or "none"
    raise ToolError(
        f"{name} for PostgreSQL {major} or newer is not installed (found: {found}). "
        f"Install it, e.g. apt-get install postgresql-client-{major}."
    )


def libpq_env(url: str) -> dict[str, str]:
    """The environment that points libpq at ``url``'s database, password included."""
    parsed = make_url(url)
    env = _without_libpq()
    for key, value in {
        "PGHOST": parsed.host,
        "PGPORT": str(parsed.port) if parsed.port else None,
        "PGUSER": parsed.username,
        "PGPASSWORD": parsed.password,
        "PGDATABASE": parsed.database,
    }.items():
        if value:
            env[key] = str(value)
    for name, var in _QUERY_ENV.items():
        given = parsed.query.get(name)
        if isinstance(given, str):
            env[var] = given
    return env


def _without_libpq() -> dict[str, str]:
    # A PG* variable of the operator's shell must not redirect a tool to another server.
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def _conninfo_dbname(url: str) -> str:
    # pg_restore needs -d to restore into a database; a bare name containing '=' would be
    # read as a connection string, so it is passed as one, quoted as libpq wants.
    name = make_url(url).database or ""
    return "dbname='" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _run(cmd: Sequence[str], env: dict[str, str], what: str) -> None:
    # A PostgreSQL tool found on this machine; the arguments are ours.
    proc = subprocess.run(list(cmd), env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()[-2000:]
        raise ToolError(f"{what} failed (exit {proc.returncode}): {detail}")


def dump(url: str, major: int, snapshot: str, out: Path) -> None:
    """A custom-format dump of the database as the exported ``snapshot`` sees it."""
    tool = find_tool("pg_dump", major)
    cmd = [str(tool), "--format=custom", "--no-owner", "--no-privileges", "--no-password"]
    _run([*cmd, f"--snapshot={snapshot}", f"--file={out}"], libpq_env(url), "pg_dump")


def restore(url: str, major: int, dump_file: Path) -> None:
    """Load ``dump_file`` in one transaction: on failure the database is left as it was."""
    tool = find_tool("pg_restore", major)
    cmd = [
        str(tool),
        "--no-owner",
        "--no-privileges",
        "--no-password",
        "--exit-on-error",
        "--single-transaction",
        # Objects that outlive the dropped tables (the label trigger's function).
        "--clean",
        "--if-exists",
        f"--dbname={_conninfo_dbname(url)}",
        str(dump_file),
    ]
    _run(cmd, libpq_env(url), "pg_restore")


def copy_rows(
    dump_file: Path, tables: Sequence[str], major: int
) -> Iterator[tuple[str, dict[str, str | None]]]:
    """(table, row) for the rows of ``tables`` in a dump, read without touching any database.

    pg_restore prints the data as COPY text; values here are hashes, ids and short
    names, so only the NULL marker and backslash escapes need decoding.
    """
    tool = find_tool("pg_restore", major)
    cmd = [str(tool), "--data-only", "--file=-"]
    cmd += [f"--table={t}" for t in tables] + [str(dump_file)]
    proc = subprocess.Popen(  # noqa: S603 - a PostgreSQL tool found on this machine
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_without_libpq()
    )
    if proc.stdout is None or proc.stderr is None:  # both piped above
        raise ToolError("pg_restore's output could not be read")
    table: str | None = None
    columns: list[str] = []
    for line in proc.stdout:
        line = line.rstrip("\n")
        if table is None:
            match = re.fullmatch(r'COPY (?:\S+\.)?"?(\w+)"? \(([^)]*)\) FROM stdin;', line)
            if match:
                table = match.group(1)
                columns = [c.strip().strip('"') for c in match.group(2).split(",")]
            continue
        if line == "\\.":
            table = None
            continue
        values = line.split("\t")
        if len(values) != len(columns):
            proc.kill()
            raise ArchiveError(f"the database dump has a malformed row in table {table}")
        yield table, dict(zip(columns, map(_unescape, values), strict=True))
    error = proc.stderr.read()
    if proc.wait() != 0:
        raise ArchiveError(f"the database dump cannot be read by pg_restore: {error.strip()}")


def _unescape(value: str) -> str | None:
    if value == "\\N":
        return None
    return re.sub(r"\\(.)", lambda m: {"t": "\t", "n": "\n", "r": "\r"}.get(m[1], m[1]), value)
