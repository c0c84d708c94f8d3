"""`status`: which run decides health, what JSON scripts get, exit code 3 when unhealthy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aaltowatch.core.urls import KINDS
from aaltowatch.status import status_report
from storage import open_archive
from tests.conftest import run_cli


def make_runs(db: Path, runs: list[tuple[str, str, list[str]]]) -> None:
    """Record runs oldest first as (spider, final status, alert checks)."""
    with open_archive(db) as archive:
        for spider, status, checks in runs:
            run_id = archive.runs.start_run(spider, "http://127.0.0.1:1")
            archive.runs.bump_run(run_id, requests=12, pages_fetched=10, not_modified=3, new=2)
            for check in checks:
                archive.runs.add_alert(run_id, check, f"{spider}: {check} happened")
            if status != "running":
                code = {"ok": 0, "unhealthy": 3}.get(status, 1)
                archive.runs.finish_run(run_id, status=status, exit_code=code)


CASES = [
    ("all ok", [("news", "ok", []), ("partnerships", "ok", [])], True),
    ("latest news unhealthy", [("news", "ok", []), ("news", "unhealthy", ["zero_items"])], False),
    ("recovered", [("news", "unhealthy", ["zero_items"]), ("news", "ok", [])], True),
    ("one spider unhealthy", [("news", "unhealthy", ["error_rate"]), ("partnerships", "ok", [])],
     False),
    ("interrupted run is skipped", [("news", "unhealthy", ["layout_drift"]),
                                    ("news", "interrupted", [])], False),
    ("running run is skipped", [("news", "ok", []), ("news", "running", [])], True),
    ("failed is unhealthy", [("news", "failed", [])], False),
    ("no runs yet", [], True),
]  # fmt: skip


@pytest.mark.parametrize(("runs", "healthy"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_health_is_the_latest_completed_run_per_spider(
    tmp_path: Path, runs: list[tuple[str, str, list[str]]], healthy: bool
) -> None:
    db = tmp_path / "archive.db"
    make_runs(db, runs)
    with open_archive(db, readonly=True) as archive:
        report = status_report(archive)
    assert report["healthy"] is healthy


def test_json_report_for_scripts(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    make_runs(db, [("partnerships", "ok", []), ("news", "unhealthy", ["layout_drift"])])
    proc = run_cli("status", "--json", db=db)
    assert proc.returncode == 3, proc.stderr
    report = json.loads(proc.stdout)
    assert set(report) >= {"healthy", "latest", "pages", "runs"}
    news = report["runs"][0]
    assert news["spider"] == "news" and news["status"] == "unhealthy"
    assert news["pages_fetched"] == 10 and news["not_modified"] == 3 and news["new"] == 2
    assert isinstance(news["duration_s"], float)
    assert news["alerts"] == [
        {"check": "layout_drift", "severity": "error", "message": "news: layout_drift happened"}
    ]
    assert report["latest"]["news"]["alerts"][0]["check"] == "layout_drift"
    assert report["latest"]["partnerships"]["status"] == "ok"


def test_table_for_people(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    make_runs(db, [("news", "ok", [])])
    proc = run_cli("status", db=db)
    assert proc.returncode == 0, proc.stderr
    assert "Recent runs" in proc.stdout and "healthy" in proc.stdout
    make_runs(db, [("news", "unhealthy", ["zero_items"])])
    proc = run_cli("status", db=db)
    assert proc.returncode == 3
    assert "ALERT" in proc.stdout and "zero_items" in proc.stdout
    assert "unhealthy" in proc.stdout


def _wide_report() -> dict:
    """The widest a run row gets: the longest spider and status, a full budget, big counts."""
    run = {
        "id": 12345, "spider": "partnerships", "started_at": "2026-01-21T16:00:00Z",
        "finished_at": "2026-01-21T16:50:00Z", "duration_s": 2999.0, "status": "interrupted",
        "exit_code": 1, "requests": 900, "pages_fetched": 900, "not_modified": 850, "skipped": 0,
        "errors": 120, "new": 900, "modified": 900, "removed": 900, "moved": 0, "restored": 0,
        "budget": 900, "budget_used": 900, "mode": "plan",
        "alerts": [{"check": "error_rate", "severity": "error", "message": "x" * 200}],
    }  # fmt: skip
    target = {
        "watch": "helsinki-vantaa", "target": "mailtos://user:secret@mail.example.org/?to=x" * 2,
        "messages": 3, "failures": 0, "consecutive_failures": 2,
        "last_sent_at": "2026-01-21T16:00:00Z", "last_failure_at": None, "events_sent": 1000,
        "events_unknown": 0,
    }  # fmt: skip
    return {
        "healthy": False,
        "latest": {"partnerships": {"id": 12345, "status": "interrupted", "alerts": []}},
        "pages": {
            **{f"{kind}_{status}": 0 for kind in KINDS for status in ("live", "removed")},
            "news_live": 20000,
            "news_removed": 10,
            "partnership_live": 90,
        },
        "runs": [run, {**run, "spider": "news", "status": "ok"}],
        "notifications": [target],
    }


@pytest.mark.parametrize("width", [80, 100, 200])
def test_status_fits_the_terminal_with_every_header_whole(width: int) -> None:
    from io import StringIO

    from rich.console import Console

    from aaltowatch.status import RUN_COLUMNS, print_status

    out = StringIO()
    print_status(_wide_report(), Console(file=out, width=width, soft_wrap=True))
    text = out.getvalue()
    table = text.split("Recent runs\n", 1)[1].split("\npages:", 1)[0]
    assert "…" not in text
    assert all(len(line) <= width for line in table.splitlines()), table
    header = table.splitlines()[0].split()
    shown = [c.header for c in RUN_COLUMNS if c.header.split()[0] in header]
    assert {"id", "spider", "status", "new", "mod", "rm", "err", "alerts"} <= set(shown)
    for col in RUN_COLUMNS:  # whole, or left out and said so
        assert col.header in table or f"{col.header}" in text.split("not shown at", 1)[-1]
    if width >= 200:
        assert "not shown" not in text
    notifications = text.split("Notifications", 1)[1]
    for head in ("events sent", "failing", "failures", "unknown", "last sent"):
        assert head in notifications


def test_every_step_alert_has_a_row_in_the_operations_alert_table() -> None:
    import re

    from aaltowatch.steps import AFTER_CRAWL

    docs = (Path(__file__).resolve().parents[1] / "docs" / "operations.md").read_text("utf-8")
    rows = set(re.findall(r"^\| `([a-z_]+)` \|", docs, re.MULTILINE))
    assert {step.alert for step in AFTER_CRAWL} <= rows
