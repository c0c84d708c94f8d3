"""Shared fixtures: the bundled snapshot served on 127.0.0.1, and real crawls into tmp archives.

Crawls run as subprocesses of the installed `aaltowatch` command (the Twisted reactor cannot
restart inside one test process), with politeness delays off for the local server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aaltowatch.testing.snapshot_server import SnapshotServer, snapshot_root

CLI = [sys.executable, "-m", "aaltowatch.cli"]


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"AALTOWATCH_CRAWL_DELAY_CAP": "0", "AALTOWATCH_DOWNLOAD_DELAY": "0"})
    env.update(extra)
    return env


# The bundled snapshot's two days (state-1, state-2), for runs whose clock is set to them.
SNAPSHOT_DAYS = ("2026-01-20 20:00:00", "2026-01-21 12:00:00")

# Debian's libfaketime (apt-get install faketime), wherever the architecture puts it.
FAKETIME_LIB = next(iter(sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))), None)


def on_day(moment: str) -> dict[str, str]:
    """Environment for a subprocess whose clock starts at `moment` (UTC, "YYYY-MM-DD HH:MM:SS")
    and runs on (libfaketime): a run on the snapshot's own days, as on the real site."""
    if FAKETIME_LIB is None:
        pytest.skip("libfaketime not installed: apt-get install faketime")
    return {"LD_PRELOAD": str(FAKETIME_LIB), "FAKETIME": f"@{moment}", "TZ": "UTC"}


def run_cli(
    *args: str, db: Path | None = None, check: bool = False, timeout: float = 180, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run `aaltowatch [--db DB] ARGS...` and return the finished process (text mode)."""
    cmd = [*CLI]
    if db is not None:
        cmd += ["--db", str(db)]
    cmd += list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=cli_env(**env))
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def crawl(db: Path, base_url: str, spider: str = "all", **env: str) -> subprocess.CompletedProcess:
    return run_cli(
        "--base-url", base_url, "crawl", "--spider", spider, "--no-progress", db=db, **env
    )


@pytest.fixture(scope="session")
def expected() -> dict:
    return json.loads((snapshot_root() / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture
def snapshot_server() -> Iterator[SnapshotServer]:
    with SnapshotServer("state-1") as server:
        yield server


@pytest.fixture(scope="session")
def two_state_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive built by crawling state 1 then state 2 (built once; copy it before writing)."""
    db = tmp_path_factory.mktemp("two-state") / "archive.db"
    with SnapshotServer("state-1") as server:
        first = crawl(db, server.url)
        assert first.returncode == 0, first.stderr
        server.set_state("state-2")
        second = crawl(db, server.url)
        assert second.returncode == 0, second.stderr
    return db


@pytest.fixture
def two_state_copy(two_state_db: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the two-state archive."""
    import sqlite3

    target = tmp_path / "archive.db"
    src = sqlite3.connect(two_state_db)
    dst = sqlite3.connect(target)
    src.backup(dst)
    src.close()
    dst.close()
    return target


__all__ = ["cli_env", "crawl", "on_day", "run_cli"]
