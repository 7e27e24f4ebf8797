"""Settings come from CURATOR_* variables; production refuses weak secrets."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from app.config import Settings, SettingsError, load_settings
from tests.support.processes import REPO, curator_cmd, curator_env


@pytest.mark.parametrize("secret", [None, "", "changethis", "CHANGEME", "short-but-not-32"])
def test_production_refuses_missing_or_weak_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, secret: str | None
) -> None:
    monkeypatch.setenv("CURATOR_ENV", "production")
    monkeypatch.setenv("CURATOR_DATA_DIR", str(tmp_path))
    if secret is None:
        monkeypatch.delenv("CURATOR_SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("CURATOR_SECRET_KEY", secret)
    with pytest.raises(SettingsError, match="CURATOR_SECRET_KEY"):
        load_settings()


def test_production_accepts_a_long_random_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURATOR_ENV", "production")
    monkeypatch.setenv("CURATOR_SECRET_KEY", "k" * 16 + "9f8e7d6c5b4a39281706f5e4d3c2b1a0")
    assert load_settings().env == "production"


def test_serve_refuses_to_start_in_production_without_a_secret(tmp_path: Path) -> None:
    env = curator_env(tmp_path, CURATOR_ENV="production")
    result = subprocess.run(
        curator_cmd("serve", "--port", "1"), env=env, cwd=REPO, capture_output=True, timeout=60
    )
    assert result.returncode == 2
    err = result.stderr.decode()
    assert "Cannot start" in err
    assert "CURATOR_SECRET_KEY is missing" in err
    assert "Traceback" not in err
    assert not (tmp_path / "curator.db").exists()  # refused before touching anything


def test_development_secret_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).resolved_secret_key()
    second = Settings(data_dir=tmp_path).resolved_secret_key()
    assert first == second
    assert len(first) >= 32
    mode = stat.S_IMODE((tmp_path / "secret_key").stat().st_mode)
    assert mode == 0o600


def test_defaults_live_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve()}/curator.db"
    assert settings.broker_url == "filesystem://"
    assert settings.resolved_result_backend == f"file://{tmp_path.resolve()}/broker/results"
    redis = Settings(data_dir=tmp_path, broker_url="redis://localhost:6379/3")
    assert redis.resolved_result_backend == "redis://localhost:6379/3"


def test_bad_values_get_one_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURATOR_WORKER_CONCURRENCY", "lots")
    monkeypatch.setenv("CURATOR_ENV", "staging")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "CURATOR_WORKER_CONCURRENCY: Input should be a valid integer" in str(err.value)
    assert "CURATOR_ENV: Input should be 'development', 'test' or 'production'" in str(err.value)
