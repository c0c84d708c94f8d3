"""`status`: which run decides health, what JSON scripts get, exit code 3 when unhealthy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aaltowatch.status import status_report
from storage import open_archive
from tests.conftest import run_cli


def make_runs(db: Path, runs: list[tuple[str, str, list[str]]]) -> None:
    """Record runs oldest first as (spider, final status, alert checks)."""
    with open_archive(db) as archive:
        for spider, status, checks in runs:
            run_id = archive.start_run(spider, "http://127.0.0.1:1")
            archive.bump_run(run_id, requests=12, pages_fetched=10, not_modified=3, new=2)
            for check in checks:
                archive.add_alert(run_id, check, f"{spider}: {check} happened")
            if status != "running":
                code = {"ok": 0, "unhealthy": 3}.get(status, 1)
                archive.finish_run(run_id, status=status, exit_code=code)


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


def test_every_step_alert_has_a_row_in_the_operations_alert_table() -> None:
    import re

    from aaltowatch.steps import AFTER_CRAWL

    docs = (Path(__file__).resolve().parents[1] / "docs" / "operations.md").read_text("utf-8")
    rows = set(re.findall(r"^\| `([a-z_]+)` \|", docs, re.MULTILINE))
    assert {step.alert for step in AFTER_CRAWL} <= rows
