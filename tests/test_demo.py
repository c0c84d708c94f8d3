"""`aaltowatch demo` works from any directory with only the installed package."""

from __future__ import annotations

import subprocess
from pathlib import Path

import feedparser

from aaltowatch.figures import FIGURES
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


def test_demo_hands_over_commands_that_run_as_printed(tmp_path: Path) -> None:
    """The closing message's commands work from where the demo ran, on the demo's archive."""
    env = {k: v for k, v in cli_env().items() if k != "COLUMNS"}
    proc = subprocess.run(
        [*CLI, "demo"], cwd=tmp_path, capture_output=True, text=True, timeout=240, env=env
    )
    assert proc.returncode == 0, proc.stderr
    # Not a terminal: table headers whole, not cut at 80 columns ("reque…", "aler…").
    headers = " ".join(f.header for f in FIGURES)
    assert any(" ".join(line.split()).endswith(headers) for line in proc.stderr.splitlines())
    lines = proc.stderr.split("Next, on the demo's archive (from this directory):\n", 1)[1]
    commands = [line.strip() for line in lines.splitlines() if line.startswith("  ")]
    export = next(c for c in commands if c.startswith("export "))
    runnable = [c.split("#")[0].strip() for c in commands if not c.startswith("export ")]
    assert {c.rsplit(" ", 1)[-1] for c in runnable} >= {"serve", "browse"}
    env = {k: v for k, v in cli_env().items() if not k.startswith("AALTOWATCH_")}
    for command in [c for c in runnable if not c.endswith((" serve", " browse"))]:
        done = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True,
                              timeout=60, env=env)  # fmt: skip
        assert done.returncode == 0, (command, done.stderr)
        assert done.stdout.strip(), command
    status = export.replace("export ", "env ") + " " + runnable[0].split(" --db ")[0] + " status"
    done = subprocess.run(status, shell=True, cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env=env)  # fmt: skip
    assert done.returncode == 0 and "Recent runs" in done.stdout, done.stderr
    # The prepared shell keeps the demo's watches, and refuses to crawl another site into it.
    prog = runnable[0].split(" --db ")[0]
    assert "AALTOWATCH_CONFIG=" in export
    shell = export.replace("export ", "env ")
    done = subprocess.run(f"{shell} {prog} watches", shell=True, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env=env)  # fmt: skip
    assert done.returncode == 0 and "no watches" not in done.stderr, done.stderr
    assert done.stdout.count("query:") >= 1
    for command in ("crawl --no-progress", "run --once"):
        done = subprocess.run(f"{shell} {prog} {command}", shell=True, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
        assert done.returncode == 2 and "refusing to crawl" in done.stderr, done.stderr
