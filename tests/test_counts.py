"""Counts that agree: what a run's row says it did is what its change events list, and the
commands say so when there is nothing to list."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from aaltowatch.core.items import CheckOutcome
from aaltowatch.core.urls import SPIDER_NAMES
from storage import open_archive
from tests.conftest import run_cli

COLUMNS = {"new": ("new", "duplicate"), "modified": ("modified",), "removed": ("removed",),
           "moved": ("moved",), "restored": ("restored",)}  # fmt: skip


def test_each_runs_counters_are_its_change_events(two_state_copy: Path) -> None:
    """Day 2 of the snapshot has a page whose new URL is fetched before its old URL answers
    301: one `moved` event, and the run must not count it as new too."""
    with sqlite3.connect(two_state_copy) as conn:
        runs = conn.execute(
            "SELECT id, new, modified, removed, moved, restored FROM runs ORDER BY id"
        ).fetchall()
        assert len(runs) == 2 * len(SPIDER_NAMES)  # two crawls of every spider
        for run_id, *counters in runs:
            events = dict(
                conn.execute(
                    "SELECT change, COUNT(*) FROM changes WHERE run_id = ? GROUP BY change",
                    (run_id,),
                ).fetchall()
            )
            listed = [sum(events.get(c, 0) for c in kinds) for kinds in COLUMNS.values()]
            assert counters == listed, (run_id, dict(zip(COLUMNS, counters, strict=True)), events)


def test_history_counts_the_checks_it_lists(two_state_copy: Path, expected: dict) -> None:
    (moved,) = expected["changes_1_to_2"]["moved"]
    proc = run_cli("history", moved["to"], "--json", db=two_state_copy)
    assert proc.returncode == 0, proc.stderr
    checks = json.loads(proc.stdout)["checks"]
    assert checks["count"] == len(checks["recent"])
    assert checks["verified"] == sum(CheckOutcome(c["outcome"]).verified for c in checks["recent"])
    text = run_cli("history", moved["to"], db=two_state_copy).stdout
    assert f"; {checks['count']} checks (" in text


def test_diff_of_a_page_with_one_version_says_so(two_state_copy: Path) -> None:
    with sqlite3.connect(two_state_copy) as conn:
        (url,) = conn.execute(
            "SELECT url FROM pages WHERE version_count = 1 AND status = 'live' LIMIT 1"
        ).fetchone()
    proc = run_cli("diff", url, db=two_state_copy)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert f"{url} has only one version (v1): nothing to compare" in proc.stderr


def test_changes_on_an_empty_archive_says_no_changes(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    open_archive(db).close()
    proc = run_cli("changes", db=db)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr.strip() == "no changes yet"
    filtered = run_cli("changes", "--change", "restored", db=db)
    assert filtered.returncode == 0 and filtered.stderr.strip() == "no changes match these options"
    assert run_cli("changes", "--json", db=db).stdout.strip() == "[]"
