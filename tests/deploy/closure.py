"""What an install of Curator pulls in, worked out offline from the installed packages.

The dependency closure of pyproject.toml's requirements (plus the extras asked for) is
walked through each installed distribution's own metadata (``Requires-Dist``, markers
evaluated for this interpreter and for the extras actually requested), and its size is
the sum of the files each distribution's RECORD lists, as they lie on disk. Run it as
``python -m tests.deploy.closure [extra ...]`` to print the figures.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
MB = 1_000_000


def project() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        table: dict[str, object] = tomllib.load(f)["project"]
    return table


def tool(name: str) -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        table: dict[str, object] = tomllib.load(f)["tool"][name]
    return table


def requirements(extras: Iterable[str] = ()) -> list[Requirement]:
    """The project's own requirements: the base set plus the named extras."""
    table = project()
    found = [Requirement(r) for r in table["dependencies"]]  # type: ignore[attr-defined]
    optional: dict[str, list[str]] = table["optional-dependencies"]  # type: ignore[assignment]
    for extra in extras:
        found += [Requirement(r) for r in optional[extra]]
    return found


def _applies(req: Requirement, extras: frozenset[str]) -> bool:
    if req.marker is None:
        return True
    # A marker without `extra` ignores it; one with it holds for a requested extra only.
    return any(req.marker.evaluate({"extra": e}) for e in (extras or {""}))


@dataclass(frozen=True)
class Closure:
    versions: dict[str, str]  # canonical name -> installed version
    sizes: dict[str, int]  # canonical name -> bytes on disk
    missing: list[str]  # requirements that apply here but are not installed
    unsatisfied: list[str]  # installed, but outside the declared range

    @property
    def names(self) -> set[str]:
        return set(self.versions)

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes.values())


def _size(dist: metadata.Distribution) -> int:
    total = 0
    for file in dist.files or []:
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            total += path.stat().st_size
        elif file.size:
            total += file.size
    return total


def closure(roots: Iterable[Requirement]) -> Closure:
    """Every distribution the roots need here, with the extras each was asked for."""
    versions: dict[str, str] = {}
    sizes: dict[str, int] = {}
    seen: dict[str, frozenset[str]] = {}
    missing: list[str] = []
    unsatisfied: list[str] = []
    queue = [(req, frozenset({""})) for req in roots]
    while queue:
        req, parent_extras = queue.pop()
        if not _applies(req, parent_extras):
            continue
        name = canonicalize_name(req.name)
        extras = frozenset(req.extras)
        done = seen.get(name)
        if done is not None and extras <= done:
            continue
        seen[name] = (done or frozenset()) | extras
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing.append(str(req))
            continue
        if not req.specifier.contains(dist.version, prereleases=True):
            unsatisfied.append(f"{req} (installed {dist.version})")
        versions[name] = dist.version
        sizes[name] = _size(dist)
        queue += [(Requirement(r), extras) for r in dist.requires or []]
    return Closure(versions, sizes, sorted(set(missing)), sorted(set(unsatisfied)))


def main(extras: list[str]) -> None:
    found = closure(requirements(extras))
    for name, size in sorted(found.sizes.items(), key=lambda item: -item[1]):
        print(f"{size / MB:9.1f} MB  {name} {found.versions[name]}")
    label = "+".join(["base", *extras])
    print(f"{found.total_bytes / MB:9.1f} MB  total, {len(found.names)} distributions ({label})")
    for line in found.missing:
        print(f"missing: {line}")
    for line in found.unsatisfied:
        print(f"outside the declared range: {line}")


if __name__ == "__main__":
    main(sys.argv[1:])
