"""The web installs and starts without the ML stack: `pip install .` is the web alone,
`pip install '.[worker]'` adds what only the workers import (issue 15, part 2).

No network here: the web install's dependency set and size are worked out from the
installed distributions' metadata (tests/deploy/closure.py), and the web is started for
real with every worker-only package made unimportable.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import textwrap
from functools import cache
from importlib import metadata
from pathlib import Path

import grimp
import httpx2 as httpx
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy import closure
from tests.deploy.closure import MB, ROOT, Closure, requirements
from tests.support.processes import curator_cmd, curator_env, free_port, running, wait_http_ok

WEB_LIMIT_MB = 450
# imagehash needs SciPy, so the web has it too; the workers import it directly as well.
SHARED_WITH_THE_WEB = {"scipy"}


@cache
def web() -> Closure:
    return closure.closure(requirements())


@cache
def web_and_worker() -> Closure:
    return closure.closure(requirements(["worker"]))


def worker_extra() -> set[str]:
    return {canonicalize_name(r.name) for r in requirements(["worker"])[len(requirements()) :]}


def worker_only() -> set[str]:
    """Distributions the worker extra adds to the web install (torch, CUDA, sklearn...)."""
    return web_and_worker().names - web().names


def import_names(dists: set[str]) -> set[str]:
    """Top-level modules those distributions install."""
    owners = metadata.packages_distributions()
    return {
        module
        for module, names in owners.items()
        if {canonicalize_name(n) for n in names} & dists and module.isidentifier()
    }


def test_the_closure_follows_requested_extras_and_markers_only() -> None:
    plain = closure.closure([Requirement("uvicorn")])
    standard = closure.closure([Requirement("uvicorn[standard]")])
    assert "uvloop" not in plain.names
    assert "uvloop" in standard.names
    assert plain.names < standard.names
    # A marker for another interpreter is left out.
    other = closure.closure([Requirement("uvloop; python_version < '3.0'")])
    assert other.names == set()


def test_the_web_install_is_complete_here_and_within_the_declared_ranges() -> None:
    found = closure.closure(requirements(["worker", "dev"]))
    assert not found.missing, f"not installed (run make test's install): {found.missing}"
    assert not found.unsatisfied, f"installed outside pyproject's ranges: {found.unsatisfied}"


def test_the_web_install_has_no_worker_package() -> None:
    names = web().names
    assert {"fastapi", "sqlalchemy", "boto3", "scipy"} <= names  # the walk finds the web's
    assert "torch" in web_and_worker().names  # ... and would find torch if it were there
    leaked = names & (worker_extra() - SHARED_WITH_THE_WEB)
    heavy = {n for n in names if n.startswith(("torch", "nvidia-", "triton", "cuda"))}
    assert not leaked | heavy, f"the web would install {sorted(leaked | heavy)}"


def test_the_web_install_is_at_most_450_mb() -> None:
    found = web()
    assert not found.missing, f"cannot size what is not installed: {found.missing}"
    total = found.total_bytes / MB
    biggest = sorted(found.sizes.items(), key=lambda item: -item[1])[:5]
    print(f"web install: {total:.0f} MB in {len(found.names)} distributions; {biggest}")
    assert 50 < total <= WEB_LIMIT_MB, f"{total:.0f} MB; largest: {biggest}"
    assert web_and_worker().total_bytes > 2 * found.total_bytes  # the extra is the bulk


def _third_party_imports(package: str) -> set[str]:
    graph = grimp.build_graph(package, include_external_packages=True, cache_dir=None)
    found = set()
    for module in graph.find_children(package) | graph.find_descendants(package):
        for imported in graph.find_modules_directly_imported_by(module):
            top = imported.split(".")[0]
            if top not in sys.stdlib_module_names and top not in {"app", "workers"}:
                found.add(top)
    return found


def _undeclared(modules: set[str], install: Closure) -> list[str]:
    owners = metadata.packages_distributions()
    return sorted(
        m for m in modules if not {canonicalize_name(d) for d in owners.get(m, [])} & install.names
    )


def test_every_package_the_web_imports_comes_with_the_web_install() -> None:
    modules = _third_party_imports("app")
    assert {"fastapi", "sqlalchemy", "numpy"} <= modules  # the graph sees the imports
    assert not _undeclared(modules, web()), "the web imports what `pip install .` lacks"


def test_every_package_the_workers_import_comes_with_the_worker_extra() -> None:
    modules = _third_party_imports("workers")
    assert {"torch", "sklearn"} <= modules
    assert not _undeclared(modules, web_and_worker())


def _contract(contract_id: str) -> dict[str, object]:
    (found,) = [c for c in closure.tool("importlinter")["contracts"] if c.get("id") == contract_id]
    return found


def test_the_import_contract_forbids_every_worker_only_package_and_holds() -> None:
    contract = _contract("web-without-worker-extra")
    assert contract["source_modules"] == ["app"]
    direct = import_names(worker_extra() - SHARED_WITH_THE_WEB)
    assert {"torch", "sklearn", "pytorch_grad_cam", "umap"} <= direct
    missing = direct - set(contract["forbidden_modules"])  # type: ignore[arg-type]
    assert not missing, f"add to the contract's forbidden_modules: {sorted(missing)}"
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache", "--contract", "web-without-worker-extra"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout


# Every Python process started with this directory on PYTHONPATH (the web, and uvicorn's
# own children) runs this first: importing a worker-only module fails as it would in a
# web-only install.
SITECUSTOMIZE = """
import sys

BLOCKED = frozenset({blocked!r})


class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"No module named {{name!r}} (web-only install)", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled())
"""


@pytest.fixture
def web_only_env(tmp_path: Path) -> dict[str, str]:
    # A module some web package also installs (a shared namespace) stays importable.
    blocked = sorted((import_names(worker_only()) - import_names(web().names)) | {"glasbey"})
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(textwrap.dedent(SITECUSTOMIZE.format(blocked=blocked)))
    env = curator_env(tmp_path / "data", CURATOR_ADMIN_PASSWORD="web-only-install")
    env["PYTHONPATH"] = str(hook)
    return env


def test_the_hook_makes_worker_packages_unimportable(web_only_env: dict[str, str]) -> None:
    probe = textwrap.dedent("""
        import importlib, sys
        for m in sys.argv[1:]:
            try:
                importlib.import_module(m)
                print("imported", m)
            except ImportError:
                print("blocked", m)
    """)
    result = subprocess.run(
        [sys.executable, "-c", probe, "torch", "sklearn", "timm", "fastapi", "scipy"],
        env=web_only_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.split("\n")[:5] == [
        *("blocked torch", "blocked sklearn", "blocked timm"),
        *("imported fastapi", "imported scipy"),
    ]


@pytest.mark.slow
def test_the_web_serves_without_any_worker_package(
    web_only_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"
    cmd = curator_cmd("serve", "--no-worker", "--port", str(port))
    with running(cmd, web_only_env, log) as proc:
        wait_http_ok(f"{base}/api/v1/health", proc, log, timeout=120)
        token = httpx.post(
            f"{base}/api/v1/auth/token",
            data={"username": "admin", "password": "web-only-install"},
            timeout=30,
        )
        assert token.status_code == 200
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        assert httpx.get(f"{base}/api/v1/projects", headers=headers, timeout=30).status_code == 200
        assert httpx.get(f"{base}/login", timeout=30).status_code == 200
    assert "web-only install" not in log.read_text(), log.read_text()


def test_serve_with_its_worker_on_a_web_only_install_says_what_to_install(
    web_only_env: dict[str, str],
) -> None:
    result = subprocess.run(
        curator_cmd("serve", "--port", str(free_port())),
        env=web_only_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    said = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 2, said
    assert "no worker packages" in said
    assert "pip install '.[worker]'" in said
    assert "--no-worker" in said
    assert "Traceback" not in said


def _dockerfile_stages() -> dict[str, tuple[str, list[str]]]:
    """Stage name -> (what it is built FROM, its instructions, continuation lines joined)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stages: dict[str, tuple[str, list[str]]] = {}
    current: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line.upper().startswith("FROM "):
            words = line.split()
            current = []
            name = words[3] if len(words) > 3 and words[2].upper() == "AS" else f"#{len(stages)}"
            stages[name] = (words[1], current)
        elif line and not line.startswith("#"):
            current.append(line)
    return stages


def _extras_installed_by(target: str) -> set[str] | None:
    """The project extras the target's `pip install` lines ask for (None: no project
    install with dependencies at all)."""
    stages = _dockerfile_stages()
    runs: list[str] = []
    stage: str | None = target
    while stage in stages:
        parent, instructions = stages[stage]
        runs += [i for i in instructions if i.upper().startswith("RUN ")]
        stage = parent
    extras: set[str] | None = None
    for run in runs:
        for command in re.findall(r"pip install ([^&;|]*)", run):
            args = shlex.split(command)
            if "--no-deps" in args:
                continue  # the code itself, on top of the dependencies already there
            for spec in (a for a in args if not a.startswith("-")):
                match = re.fullmatch(r"\.(?:\[([\w,-]+)\])?", spec)
                assert match, f"{target}: pip installs {spec!r}, not the project"
                extras = (extras or set()) | set(filter(None, (match.group(1) or "").split(",")))
    return extras


def test_the_web_image_installs_the_project_without_the_worker_extra() -> None:
    assert _extras_installed_by("web") == set()
    names = closure.closure(requirements(sorted(_extras_installed_by("web") or ()))).names
    assert "torch" not in names
    assert not any(n.startswith("nvidia-") for n in names)
    assert "fastapi" in names


def test_the_worker_image_adds_the_worker_extra() -> None:
    extras = _extras_installed_by("worker")
    assert extras == {"worker"}
    assert "torch" in closure.closure(requirements(sorted(extras))).names


def test_compose_builds_the_web_from_the_web_target_and_workers_from_the_worker_one() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    built = {name: s["build"] for name, s in services.items() if "build" in s}
    assert built["web"]["target"] == "web"
    workers = [name for name in built if name.startswith("worker")]
    assert workers
    assert all(built[name]["target"] == "worker" for name in workers)
    assert set(built) == {"web", *workers}
    assert set(_dockerfile_stages()) >= {"web", "worker"}
