"""Fixtures of the hostile-site tests: the internal service, and crawls that cannot hurt us.

Every crawl runs `aaltowatch run --once` in a subprocess under `prlimit --as`, so a bound that
regresses fails the test (MemoryError, a killed run) instead of taking the machine down, and
with a wall-clock timeout, so an attack that never ends fails instead of hanging.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CLI, cli_env
from tests.hostile.server import SECRET, InternalService

MEMORY_CEILING = 768 * 2**20
"""Address space a hostile crawl may use (a normal crawl of the fault site fits in 300 MB)."""
FAST = {"AALTOWATCH_RETRY_TIMES": "1", "AALTOWATCH_DOWNLOAD_TIMEOUT": "3"}
PUBLIC = "https://www.aalto.fi/"


@dataclass
class Run:
    """A finished hostile crawl: its process, how long it took, and where it wrote."""

    proc: subprocess.CompletedProcess[str]
    seconds: float
    db: Path
    feeds: Path

    @property
    def alerts(self) -> list[tuple[str, str]]:
        with sqlite3.connect(self.db) as conn:
            rows = conn.execute(
                "SELECT check_name, message FROM alerts"
                " WHERE run_id = (SELECT MAX(id) FROM runs) ORDER BY id"
            )
            return [tuple(r) for r in rows]

    def bound_alerts(self) -> str:
        return " ".join(m for check, m in self.alerts if check == "bound_reached")

    @property
    def stats(self) -> dict[str, Any]:
        with sqlite3.connect(self.db) as conn:
            row = conn.execute("SELECT stats FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        return json.loads(row[0])

    def export(self) -> list[dict[str, Any]]:
        proc = subprocess.run(
            [*CLI, "--db", str(self.db), "export", "--format", "ndjson"],
            capture_output=True,
            text=True,
            env=cli_env(),
            timeout=60,
            check=True,
        )
        return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]

    def feed_text(self) -> str:
        return "".join(p.read_text(encoding="utf-8") for p in sorted(self.feeds.iterdir()))


def hostile_run(
    tmp: Path, base_url: str, *, spider: str = "news", timeout: float = 45, **env: str
) -> Run:
    """`run --once` against `base_url` under the memory ceiling; must end like a run (0 or 3)."""
    db, feeds = tmp / "archive.db", tmp / "feeds"
    cmd = ["prlimit", f"--as={MEMORY_CEILING}", "--", *CLI, "--db", str(db)]
    cmd += ["--base-url", base_url, "--feeds-dir", str(feeds), "run", "--once", "--spider", spider]
    start = time.monotonic()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=cli_env(**{**FAST, **env})
    )
    run = Run(proc, time.monotonic() - start, db, feeds)
    assert proc.returncode in (0, 3), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr, proc.stderr[-3000:]
    return run


def assert_nothing_leaked(run: Run, internal: InternalService) -> None:
    """The internal service saw no request; nothing off-site is stored or published."""
    assert internal.requests == [], internal.requests
    pages = run.export()
    assert all(p["url"].startswith(PUBLIC) for p in pages), [p["url"] for p in pages]
    dumped = json.dumps(pages) + run.feed_text()
    assert SECRET not in dumped
    assert "root:x:0:0" not in dumped
    assert "127.0.0.2" not in dumped


def has_unsafe(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\n\t\r" for ch in text)


@pytest.fixture
def internal() -> Iterator[InternalService]:
    with InternalService() as srv:
        yield srv
