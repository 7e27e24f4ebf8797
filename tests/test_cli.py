"""`curator createuser` and `curator migrate`, run as a user would, in fresh data dirs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import grimp
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.support.processes import REPO, curator_cmd, curator_env


def curator(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        curator_cmd(*args),
        env=curator_env(data),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_createuser_works_before_the_server_ever_ran(tmp_path: Path) -> None:
    data = tmp_path / "never-served"
    result = curator(data, "createuser", "ops", "--password", "ops-password", "--role", "manager")
    assert result.returncode == 0, result.stderr
    assert "Created manager ops." in result.stdout
    with TestClient(create_app(Settings(data_dir=data))) as client:
        token = client.post(
            "/api/v1/auth/token", data={"username": "ops", "password": "ops-password"}
        )
        assert token.status_code == 200
        me = client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
        )
        assert me.json()["role"] == "manager"


def test_createuser_refuses_bad_input_clearly(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert curator(data, "createuser", "ops", "--password", "ops-password").returncode == 0
    dup = curator(data, "createuser", "ops", "--password", "ops-password")
    assert dup.returncode == 1
    assert "already exists" in dup.stderr
    short = curator(data, "createuser", "new", "--password", "short")
    assert short.returncode == 1
    assert "at least 8 characters" in short.stderr
    bad_name = curator(data, "createuser", "bad name", "--password", "long-enough")
    assert bad_name.returncode == 1
    bad_role = curator(data, "createuser", "new", "--password", "long-enough", "--role", "god")
    assert bad_role.returncode == 2
    for result in (dup, short, bad_name, bad_role):
        assert "Traceback" not in result.stderr


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    data = tmp_path / "d"
    for _ in range(2):
        result = curator(data, "migrate")
        assert result.returncode == 0, result.stderr
        assert "Database is up to date." in result.stdout
    assert (data / "curator.db").exists()


def test_every_command_is_on_the_one_cli(tmp_path: Path) -> None:
    result = curator(tmp_path / "d", "--help")
    assert result.returncode == 0, result.stderr
    commands = "migrate createuser serve worker healthcheck import export backup restore gc"
    for command in commands.split():
        assert re.search(rf"│ {command} ", result.stdout), f"{command} missing:\n{result.stdout}"


def test_the_commands_import_the_cli_package_never_the_other_way() -> None:
    """app.cli registers the commands kept with their domain; none of them, nor anything
    else in app, imports app.cli back (that was a circle through private helpers)."""
    graph = grimp.build_graph("app", "workers")
    importers = {
        importer
        for module in graph.find_descendants("app.cli") | {"app.cli"}
        for importer in graph.find_modules_that_directly_import(module)
        if importer != "app.cli" and not importer.startswith("app.cli.")
    }
    assert not importers, f"modules that import app.cli: {sorted(importers)}"
    registered = graph.find_modules_directly_imported_by("app.cli")
    assert {"app.exports.cli", "app.imports.cli", "app.ops.cli", "app.ops.gc_cli"} <= registered
