"""docker-compose.yml and the Dockerfile run only commands and settings Curator has."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from pydantic import SecretStr, ValidationError

from app.cli import cli
from app.config import Settings
from app.task_names import QUEUES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
# Curator services are the ones built from the Dockerfile; the others use stock images.
CURATOR = sorted(name for name, service in SERVICES.items() if "build" in service)
S3_PROFILE = ("minio", "minio-init")  # started only with `--profile s3`


def _args(value: str | list[Any]) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def _env(service: str) -> dict[str, str]:
    env: dict[str, Any] = SERVICES[service].get("environment") or {}  # mapping form
    return {key: str(value) for key, value in env.items()}


def _dockerfile_exec_forms(instruction: str) -> list[list[str]]:
    """Every stage's instruction (the web and worker targets each have a CMD)."""
    found = re.findall(rf"^{instruction}\s+(\[.*\])\s*$", DOCKERFILE, re.MULTILINE)
    assert found, f"the Dockerfile has no {instruction} in exec form"
    return [list(json.loads(one)) for one in found]


def _invocations() -> list[Any]:
    """Every `curator ...` argument list the image runs, named by where it comes from."""
    found = [
        pytest.param(cmd, id=f"Dockerfile CMD {i}")
        for i, cmd in enumerate(_dockerfile_exec_forms("CMD"))
    ]
    for name in CURATOR:
        found.append(pytest.param(_args(SERVICES[name]["command"]), id=f"{name} command"))
        test = _args(SERVICES[name].get("healthcheck", {}).get("test", []))
        if test[1:2] == ["curator"]:
            found.append(pytest.param(test[2:], id=f"{name} healthcheck"))
    return found


def _interpolate(value: str, host: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} substitution."""

    def substitute(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3) or ""
        if host.get(name):
            return host[name]
        if operator == ":?":
            raise LookupError(f"{name}: {argument}")
        return argument if operator == ":-" else ""

    return re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}", substitute, value)


def test_the_services_exist_and_curator_ones_build_the_image() -> None:
    assert set(SERVICES) == {
        *("web", "worker-cpu", "worker-gpu", "redis", "postgres"),
        *S3_PROFILE,
    }
    assert CURATOR == ["web", "worker-cpu", "worker-gpu"]


@pytest.mark.parametrize("args", _invocations())
def test_every_invocation_is_a_real_cli_command(args: list[str]) -> None:
    # Typer >= 0.2x vendors click, so the group is no `click.Group`; it still has `.commands`.
    commands: dict[str, Any] = getattr(typer.main.get_command(cli), "commands", {})
    name, *rest = args
    assert name in commands, f"no `curator {name}` in {sorted(commands)}"
    command = commands[name]
    options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for arg in rest:
        if arg.startswith("--"):
            assert arg.split("=")[0] in options, f"`curator {name}` has no {arg}"
    # Click's own parser: arity, types and ranges (e.g. --concurrency 0) fail here.
    command.make_context(name, list(rest))


def test_the_image_runs_curator_and_compose_keeps_that_entrypoint() -> None:
    assert _dockerfile_exec_forms("ENTRYPOINT")[-1] == ["curator"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["curator"] == "app.cli:main"
    for name in CURATOR:
        assert "entrypoint" not in SERVICES[name], f"{name} must run `curator`"


def test_every_curator_variable_is_a_real_setting() -> None:
    # Keys set anywhere, as `KEY: value` or `- KEY=value` (comments and ${...} don't match).
    names = set(re.findall(r"^\s*(?:- )?(CURATOR_\w+)\s*[:=]", COMPOSE_TEXT, re.M))
    names |= set(re.findall(r"^ENV\s+(CURATOR_\w+)=", DOCKERFILE, re.M))
    assert {"CURATOR_SECRET_KEY", "CURATOR_WORKER_QUEUES", "CURATOR_DATA_DIR"} <= names
    unknown = {n for n in names if n.removeprefix("CURATOR_").lower() not in Settings.model_fields}
    assert not unknown, f"not Settings fields: {sorted(unknown)}"


@pytest.mark.parametrize("service", CURATOR)
def test_compose_env_gives_valid_production_settings(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = {"CURATOR_SECRET_KEY": "k" * 48}
    for name in [n for n in os.environ if n.startswith("CURATOR_")]:
        monkeypatch.delenv(name)
    for name, value in _env(service).items():
        monkeypatch.setenv(name, _interpolate(value, host))
    settings = Settings()
    assert settings.env == "production"
    assert str(settings.data_dir) == _env(service)["CURATOR_DATA_DIR"]
    assert settings.broker_url.startswith("redis://redis:")
    assert (settings.database_url or "").startswith("postgresql+psycopg://curator:curator@")
    # Without a key on the host, compose itself refuses to start the service.
    with pytest.raises(LookupError, match="CURATOR_SECRET_KEY"):
        _interpolate(_env(service)["CURATOR_SECRET_KEY"], {})


@pytest.mark.parametrize("secret", [None, "changeme", "not-a-placeholder-but-short"])
def test_production_settings_refuse_a_missing_or_weak_secret(secret: str | None) -> None:
    with pytest.raises(ValidationError, match="CURATOR_SECRET_KEY"):
        Settings(env="production", secret_key=SecretStr(secret) if secret else None)


def test_workers_consume_real_queues_and_every_queue_has_a_worker() -> None:
    workers = [n for n in CURATOR if _args(SERVICES[n]["command"])[0] == "worker"]
    assert workers == ["worker-cpu", "worker-gpu"]
    consumed: set[str] = set()
    for name in workers:
        queues = set(_env(name)["CURATOR_WORKER_QUEUES"].split(","))
        assert queues <= set(QUEUES), f"{name}: unknown queues {queues - set(QUEUES)}"
        # `healthcheck worker` pings a node named after CURATOR_WORKER_QUEUES: no --queues.
        assert "--queues" not in _args(SERVICES[name]["command"])
        consumed |= queues
    assert consumed == set(QUEUES)


def test_gpu_worker_consumes_ml_and_reserves_an_nvidia_gpu() -> None:
    assert _env("worker-gpu")["CURATOR_WORKER_QUEUES"] == "ml"
    devices = SERVICES["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)


def test_every_service_has_a_healthcheck_and_waits_for_healthy_ones() -> None:
    for name, service in SERVICES.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            # A one-shot (the bucket maker) is waited for until it has done its job.
            one_shot = SERVICES[dependency].get("restart") == "no"
            wanted = "service_completed_successfully" if one_shot else "service_healthy"
            assert spec["condition"] == wanted, f"{name} -> {dependency}"
        if service.get("restart") == "no":
            continue  # a one-shot has no health, only an exit status
        test = _args(service.get("healthcheck", {}).get("test", []))
        assert test, f"{name} has no healthcheck"
        assert test[0] in {"CMD", "CMD-SHELL"}, f"{name}: healthcheck test is {test}"
        if name in CURATOR:
            target = "worker" if _args(service["command"])[0] == "worker" else "web"
            assert test == ["CMD", "curator", "healthcheck", target], name
    assert set(SERVICES["web"]["depends_on"]) == {"redis", "postgres", "minio-init"}
    for worker in ("worker-cpu", "worker-gpu"):  # the web applies the migrations first
        assert "web" in SERVICES[worker]["depends_on"]


def test_curator_services_share_one_named_volume_at_the_data_dir() -> None:
    sources: set[str] = set()
    for name in CURATOR:
        data_dir = _env(name)["CURATOR_DATA_DIR"]
        # Short syntax, source:target[:mode].
        mounts = {v.split(":")[1]: v.split(":")[0] for v in SERVICES[name]["volumes"]}
        assert data_dir in mounts, f"{name} does not mount its data dir {data_dir}"
        sources.add(mounts[data_dir])
    assert len(sources) == 1, f"data dir volumes differ: {sources}"
    assert sources <= set(COMPOSE["volumes"]), "the data dir must be a named volume"
    assert re.search(rf"^ENV\s+CURATOR_DATA_DIR={data_dir}$", DOCKERFILE, re.M)
    assert re.search(rf"^VOLUME\s+{data_dir}$", DOCKERFILE, re.M)


def _s3_host(**extra: str) -> dict[str, str]:
    return {"CURATOR_SECRET_KEY": "k" * 48, "CURATOR_STORAGE_URL": "s3://curator/data", **extra}


def test_the_s3_profile_adds_minio_and_nothing_else_needs_it() -> None:
    profiled = {name: s["profiles"] for name, s in SERVICES.items() if "profiles" in s}
    assert profiled == {name: ["s3"] for name in S3_PROFILE}
    # Without the profile, compose drops the web's wait for the bucket instead of failing.
    assert SERVICES["web"]["depends_on"]["minio-init"]["required"] is False
    assert SERVICES["minio"]["volumes"] == ["minio-data:/data"]
    assert "minio-data" in COMPOSE["volumes"]


@pytest.mark.parametrize("service", CURATOR)
def test_without_the_profile_files_stay_in_the_data_volume(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("CURATOR_")]:
        monkeypatch.delenv(name)
    for name, value in _env(service).items():
        monkeypatch.setenv(name, _interpolate(value, {"CURATOR_SECRET_KEY": "k" * 48}))
    assert Settings().storage_url == "file://"


@pytest.mark.parametrize(
    "host",
    [_s3_host(), _s3_host(AWS_ACCESS_KEY_ID="team", AWS_SECRET_ACCESS_KEY="s" * 40)],
    ids=["default credentials", "own credentials"],
)
@pytest.mark.parametrize("service", CURATOR)
def test_under_the_s3_profile_curator_signs_with_minios_credentials(
    service: str, host: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {name: _interpolate(value, host) for name, value in _env(service).items()}
    minio = {name: _interpolate(value, host) for name, value in _env("minio").items()}
    assert env["AWS_ACCESS_KEY_ID"] == minio["MINIO_ROOT_USER"]
    assert env["AWS_SECRET_ACCESS_KEY"] == minio["MINIO_ROOT_PASSWORD"]
    assert len(minio["MINIO_ROOT_PASSWORD"]) >= 8  # MinIO refuses to start otherwise
    # MinIO listens on 9000 unless its command says --address.
    assert "--address" not in _args(SERVICES["minio"]["command"])
    assert env["CURATOR_S3_ENDPOINT_URL"] == "http://minio:9000"
    for name in [n for n in os.environ if n.startswith("CURATOR_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings().storage_url == "s3://curator/data"


def _make_bucket(url: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run minio-init's script with a stand-in `mc` (no MinIO here) that logs its arguments."""
    host = _s3_host(CURATOR_STORAGE_URL=url)
    env = {name: _interpolate(value, host) for name, value in _env("minio-init").items()}
    script = _args(SERVICES["minio-init"]["command"])[0].replace("$$", "$")
    assert SERVICES["minio-init"]["entrypoint"] == ["/bin/sh", "-c"]
    log = tmp_path / "mc.log"
    fake = tmp_path / "bin" / "mc"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    fake.chmod(0o755)
    env["PATH"] = f"{fake.parent}:/usr/bin:/bin"
    done = subprocess.run(
        ["/bin/sh", "-c", script], env=env, capture_output=True, text=True, check=False
    )
    return done, log.read_text() if log.exists() else ""


def test_the_bucket_maker_creates_the_bucket_the_storage_url_names(tmp_path: Path) -> None:
    done, calls = _make_bucket("s3://team-bucket/curator/prod", tmp_path)
    assert done.returncode == 0, done.stderr
    assert calls.splitlines() == [
        "alias set store http://minio:9000 curator curator-minio-secret",
        "mb --ignore-existing store/team-bucket",
    ]


@pytest.mark.parametrize("url", ["file://", "s3://", "http://minio/curator", "s3:/x"])
def test_the_bucket_maker_refuses_a_url_without_a_bucket(url: str, tmp_path: Path) -> None:
    done, calls = _make_bucket(url, tmp_path)
    assert done.returncode == 1
    assert "needs CURATOR_STORAGE_URL=s3://bucket" in done.stderr
    assert calls == ""
