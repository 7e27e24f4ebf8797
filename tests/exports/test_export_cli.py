"""`curator export PROJECT OUT`: the same zip as the API, by name or id, clear errors."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.auth.models import User
from app.cli import cli
from app.config import Settings
from tests.conftest import ClientFor
from tests.exports.helpers import export, files, layout, new_project, upload_zip
from tests.support.processes import REPO, curator_cmd, curator_env


@pytest.fixture
def api(api_as: ClientFor, admin: User) -> TestClient:
    return api_as(admin)


@pytest.fixture
def pid(api: TestClient) -> int:
    pid = new_project(api, "Glass Ware")
    upload_zip(api, pid, layout({"glass/wine": 4, "glass/beer": 3, "mug": 2}))
    return pid


@pytest.fixture
def run(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CURATOR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CURATOR_ENV", "test")
    return CliRunner()


def test_export_by_name_matches_the_api(
    run: CliRunner, api: TestClient, pid: int, tmp_path: Path
) -> None:
    (tmp_path / "exports").mkdir()
    out = tmp_path / "exports" / "out.zip"
    args = ["export", "glass ware", str(out), "--split", "--seed", "4", "--level", "2"]
    result = run.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "Exported 7 images" in result.stdout
    with zipfile.ZipFile(out) as archive:
        assert files(archive) == files(export(api, pid, split="true", seed=4, level=2))
        doc = json.loads(archive.read("manifest.json"))
    assert doc["counts"]["left_out"]["above_level"] == 2
    assert doc["split"]["seed"] == 4
    assert [p.name for p in out.parent.iterdir()] == ["out.zip"]  # no temporary file left


def test_export_by_id_into_a_folder_with_options(run: CliRunner, pid: int, tmp_path: Path) -> None:
    args = ["export", str(pid), str(tmp_path), "--format", "csv", "--no-images"]
    result = run.invoke(cli, args)
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(tmp_path / "glass-ware-csv.zip") as archive:
        assert sorted(archive.namelist()) == ["labels.csv", "manifest.json"]
        assert archive.read("labels.csv").decode().count("\n") == 10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "{out}"], "No project with id or name 'nope'"),
        (["999", "{out}"], "No project with id or name '999'"),
        (["glass ware", "{out}", "--ratios", "1,1,1"], "sum to 3"),
        (["glass ware", "{missing}/x.zip"], "cannot write"),
        (["glass ware", "{out}", "--level", "5"], "deeper than the taxonomy"),
    ],
)
def test_errors_are_clear(
    run: CliRunner, pid: int, tmp_path: Path, args: list[str], message: str
) -> None:
    filled = [a.format(out=tmp_path / "o.zip", missing=tmp_path / "no" / "such") for a in args]
    result = run.invoke(cli, ["export", *filled])
    assert result.exit_code == 1
    assert message in " ".join(result.stderr.split())
    assert not (tmp_path / "o.zip").exists()


def test_a_real_process_fails_cleanly_on_an_unknown_project(tmp_path: Path) -> None:
    result = subprocess.run(
        curator_cmd("export", "ghost", str(tmp_path / "x.zip")),
        env=curator_env(tmp_path / "data"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "No project with id or name 'ghost'" in result.stderr
    assert "Traceback" not in result.stderr
