"""Dependencies claim what the code runs on (deptry's checks, over setup.cfg).

- Every third-party package our code imports is declared, where that code is used: the
  application's in `install_requires`, `browse`'s in the `web` extra, the tests' in `test`,
  the benchmarks' in `bench`.
- Every declared floor is the version constraints.txt pins, the one the suite runs on: a floor
  below it would claim versions nothing tested.
"""

from __future__ import annotations

import ast
import configparser
import importlib.metadata as md
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = {"aaltowatch", "spiders", "pipeline", "storage", "feeds", "pages", "scheduler"}
FIRST_PARTY |= {"bench", "tests"}
# Standard library of newer Pythons, imported first with a declared backport as fallback
# (storage/rawcodec.py: compression.zstd from 3.14, backports.zstd before it).
NEWER_STDLIB = {"compression"}
# Where a source tree's imports must be declared, most specific first (a module imported only
# by an optional command belongs to that command's extra).
SCOPES: dict[str, tuple[str, ...]] = {
    "aaltowatch/browse.py": ("install", "web"),
    "aaltowatch": ("install",),
    "spiders": ("install",),
    "pipeline": ("install",),
    "storage": ("install",),
    "feeds": ("install",),
    "pages": ("install",),
    "scheduler.py": ("install",),
    "tests": ("install", "web", "test"),
    "bench": ("install", "test", "bench"),
}


def declared() -> dict[str, list[Requirement]]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")

    def reqs(text: str) -> list[Requirement]:
        lines = (line.split("#")[0].strip() for line in text.splitlines())
        return [Requirement(line) for line in lines if line]

    groups = {"install": reqs(cfg["options"]["install_requires"])}
    for extra, text in cfg["options.extras_require"].items():
        groups[extra] = reqs(text)
    return groups


def pins() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pairs = (line.split("==") for line in lines if "==" in line and not line.startswith("#"))
    return {canonicalize_name(name): version.strip() for name, version in pairs}


def scope_of(path: Path) -> tuple[str, ...]:
    rel = path.relative_to(ROOT).as_posix()
    for prefix, scope in SCOPES.items():
        if rel == prefix or rel.startswith(prefix + "/"):
            return scope
    raise AssertionError(f"{rel}: no dependency scope")


def third_party_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    known = sys.stdlib_module_names | NEWER_STDLIB | FIRST_PARTY
    return {n for n in names if n not in known}


def sources() -> list[Path]:
    files = [ROOT / "scheduler.py"]
    for prefix in SCOPES:
        folder = ROOT / prefix
        if folder.is_dir():
            files += [p for p in folder.rglob("*.py") if "snapshot" not in p.parts]
    return sorted(set(files))


def test_every_imported_package_is_declared_where_it_is_used() -> None:
    groups = declared()
    distributions = md.packages_distributions()
    missing = []
    for path in sources():
        scopes = scope_of(path)
        allowed = {canonicalize_name(r.name) for s in scopes for r in groups.get(s, [])}
        for module in sorted(third_party_imports(path)):
            dists = {canonicalize_name(d) for d in distributions.get(module, [module])}
            if not dists & allowed:
                missing.append(f"{path.relative_to(ROOT)}: {module} ({', '.join(sorted(dists))})")
    assert not missing, "imported but not declared:\n" + "\n".join(missing)


@pytest.mark.parametrize("group", ["install", "test", "web", "bench"])
def test_every_floor_is_the_tested_pin(group: str) -> None:
    pinned = pins()
    wrong = []
    for req in declared()[group]:
        name = canonicalize_name(req.name)
        floors = [s.version for s in req.specifier if s.operator == ">="]
        if name not in pinned:
            wrong.append(f"{req}: not pinned in constraints.txt")
        elif not floors or not (pinned[name] + ".").startswith(floors[0] + "."):
            wrong.append(f"{req}: floor {floors} but constraints.txt tests {pinned[name]}")
        elif pinned[name] not in req.specifier:
            wrong.append(f"{req}: excludes the tested {pinned[name]}")
    assert not wrong, "\n".join(wrong)
