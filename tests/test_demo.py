"""`aaltowatch demo` works from any directory with only the installed package."""

from __future__ import annotations

import subprocess
from pathlib import Path

import feedparser

from tests.conftest import CLI, cli_env


def test_demo_runs_both_days_and_writes_feeds(tmp_path: Path) -> None:
    proc = subprocess.run(
        [*CLI, "demo"], cwd=tmp_path, capture_output=True, text=True, timeout=240,
        env=cli_env(COLUMNS="200"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = proc.stderr
    assert "What changed on day 2" in out
    for change in ("new", "modified", "removed", "moved"):
        assert f"│ {change}" in out
    assert "Politeness delays" in out
    feeds = tmp_path / "data" / "demo" / "feeds"
    assert (tmp_path / "data" / "demo" / "aaltowatch.db").exists()
    parsed = feedparser.parse((feeds / "news-en.xml").read_bytes())
    assert parsed.bozo == 0 and parsed.entries
    assert (feeds / "index.html").exists() and (feeds / "feeds.opml").exists()
    assert (feeds / "dashboard.html").exists() and (feeds / "partners.xml").exists()
    assert "partners: " in out and "partners: none" not in out
