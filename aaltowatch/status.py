"""`status`: the last runs, what they did, and the alerts they raised."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from storage import Archive

RUN_FIELDS = (
    "id", "spider", "started_at", "finished_at", "status", "exit_code", "requests",
    "pages_fetched", "not_modified", "skipped", "errors", "new", "modified", "removed", "moved",
    "restored",
)  # fmt: skip


def _duration(run: dict[str, Any]) -> float | None:
    from datetime import datetime

    if not run.get("finished_at"):
        return None
    start = datetime.fromisoformat(run["started_at"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(run["finished_at"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def status_report(archive: Archive, limit: int = 10) -> dict[str, Any]:
    runs = []
    for run in archive.runs(limit):
        record = {k: run.get(k) for k in RUN_FIELDS}
        record["duration_s"] = _duration(run)
        record["alerts"] = [
            {"check": a["check_name"], "severity": a["severity"], "message": a["message"]}
            for a in archive.alerts(run_id=run["id"])
        ]
        runs.append(record)
    latest: dict[str, dict[str, Any]] = {}
    for run in runs:
        latest.setdefault(run["spider"], run)
    healthy = all(r["status"] in ("ok", "running") for r in latest.values())
    counts = {
        f"{kind}_{status}": archive.count_pages(kind, status)
        for kind in ("news", "partnership")
        for status in ("live", "removed")
    }
    return {"healthy": healthy, "pages": counts, "runs": runs}


def print_status(report: dict[str, Any], console: Console) -> None:
    table = Table(title="Recent runs", title_justify="left")
    columns = ("id", "spider", "started_at", "duration_s", "status", "requests", "pages_fetched",
               "not_modified", "new", "modified", "removed", "errors")  # fmt: skip
    for col in columns:
        table.add_column(col.replace("_", " "))
    for run in report["runs"]:
        style = "green" if run["status"] == "ok" else "red"
        cells = []
        for col in columns:
            value = run.get(col)
            if col == "duration_s" and value is not None:
                value = f"{value:.0f}s"
            cells.append(str(value if value is not None else "-"))
        cells[4] = f"[{style}]{cells[4]}[/{style}]"
        table.add_row(*cells)
    console.print(table)
    pages = report["pages"]
    console.print(
        f"pages: {pages['news_live']} news live ({pages['news_removed']} removed),"
        f" {pages['partnership_live']} partnership live ({pages['partnership_removed']} removed)"
    )
    for run in report["runs"]:
        for alert in run["alerts"]:
            console.print(f"[red]ALERT[/red] run {run['id']} {alert['check']}: {alert['message']}")
    console.print("[green]healthy[/green]" if report["healthy"] else "[red]unhealthy[/red]")
