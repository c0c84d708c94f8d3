"""`status`: the last runs, what they did, and the alerts they raised.

Health is judged per spider on its latest *completed* run: a crawl still running has no verdict
yet, and one stopped by SIGTERM (status `interrupted`) says nothing about the site, so both are
skipped and the run before them decides. A run whose process died (status `abandoned`, or still
`running` with its process gone: see aaltowatch.integrity) is judged, and is never healthy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from aaltowatch import integrity
from aaltowatch.core import planner
from aaltowatch.core.enums import RunStatus
from aaltowatch.core.errors import RUN_EXIT_CODES
from aaltowatch.core.runstats import BAD_LINKS
from aaltowatch.core.text import format_utc, parse_utc
from aaltowatch.core.urls import KINDS, LISTING_PATHS
from aaltowatch.figures import COLUMNS, FIGURES
from aaltowatch.steps import Outcome
from spiders.statkeys import BUDGET_LIMIT, BUDGET_REQUESTS, PLAN_MODE
from storage import Archive

RUN_FIELDS = ("id", "spider", "started_at", "finished_at", "status", "exit_code", *COLUMNS)
UNJUDGED = (RunStatus.RUNNING, RunStatus.INTERRUPTED)
HEALTHY = "ok"
LOOKBACK = 200  # runs searched for each spider's latest completed one, beyond --limit
UNBOUNDED = 10_000  # a width to measure a table's natural width with
STATUS_STYLE = {RunStatus.OK: "green", RunStatus.RUNNING: "cyan", RunStatus.INTERRUPTED: "yellow"}


def _as_abandoned(run: dict[str, Any]) -> dict[str, Any]:
    """A stale `running` row as the next writer will record it (status can only read)."""
    abandoned = RunStatus.ABANDONED
    return {**run, "status": abandoned, "exit_code": RUN_EXIT_CODES[abandoned], "stale": True}


def _duration(run: dict[str, Any]) -> float | None:
    if not run.get("finished_at"):
        return None
    start, end = parse_utc(run["started_at"]), parse_utc(run["finished_at"])
    return (end - start).total_seconds()  # type: ignore[operator]  # stored, so valid


def _record(archive: Archive, run: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {k: run.get(k) for k in RUN_FIELDS}
    record["duration_s"] = _duration(run)
    stats = run.get("stats") or {}
    # The planner's request budget (0 = none, policy `all`) and how the run was crawled.
    record["budget"] = stats.get(BUDGET_LIMIT)
    record["budget_used"] = stats.get(BUDGET_REQUESTS)
    record["mode"] = stats.get(PLAN_MODE)
    # Discovered links that could not become a request (part of `errors`).
    record["bad_links"] = stats.get(BAD_LINKS, 0)
    record["alerts"] = [
        {"check": a["check_name"], "severity": a["severity"], "message": a["message"]}
        for a in archive.runs.alerts(run_id=run["id"])
    ]
    # What each step of the run did (aaltowatch.steps); a failed one makes the run unhealthy.
    record["steps"] = archive.runs.run_steps(run["id"])
    if run.get("stale"):
        record["alerts"].insert(
            0, {"check": integrity.CHECK, "severity": "error", "message": integrity.message(run)}
        )
    return record


def failed_steps(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for step in record.get("steps") or () if step["outcome"] == Outcome.FAILED]


def plan_report(archive: Archive, revisit_max_days: float) -> dict[str, Any]:
    """The crawl plan: backfill progress per listing, the queue, overdue pages, oldest check."""
    listings = {}
    for lang in LISTING_PATHS:
        cursor = planner.ListingCursor.load(
            archive.plan.plan_state(planner.ListingCursor.key(lang))
        )
        listings[lang] = {
            **cursor.dump(),
            "backfill": "done" if not cursor.backfilling else f"page {cursor.next}",
        }
    now = datetime.now(UTC)
    overdue_before = format_utc(now - timedelta(days=revisit_max_days))
    kinds = {}
    for kind in KINDS:
        overview = archive.plan.check_overview(kind, overdue_before)
        queue = archive.plan.queue_sizes(kind)
        kinds[kind] = {
            "overdue": overview["overdue"],
            "oldest_check": overview["oldest_check"],
            "queued": {name: queue.get(tier, 0) for tier, name in planner.TIER_NAMES.items()},
        }
    return {"revisit_max_days": revisit_max_days, "listings": listings, **kinds}


def status_report(
    archive: Archive,
    limit: int = 10,
    lock_path: Path | None = None,
    revisit_max_days: float | None = None,
) -> dict[str, Any]:
    """JSON-ready: `healthy`, `latest` (each spider's judged run), `pages` counts, `runs`,
    and with `revisit_max_days` the crawl `plan`.

    With `lock_path`, `running` rows whose process died are reported as abandoned."""
    history = archive.runs.latest(max(limit, LOOKBACK))
    if lock_path is not None:
        stale = {r["id"] for r in integrity.stale_runs(archive, lock_path)}
        history = [_as_abandoned(r) if r["id"] in stale else r for r in history]
    runs = [_record(archive, run) for run in history[:limit]]
    latest: dict[str, dict[str, Any]] = {}
    for run in history:
        if run["status"] not in UNJUDGED and run["spider"] not in latest:
            latest[run["spider"]] = _record(archive, run)
    counts = {
        f"{kind}_{status}": archive.pages.count_pages(kind, status)
        for kind in KINDS
        for status in ("live", "removed")
    }
    return {
        "healthy": all(r["status"] == HEALTHY and not failed_steps(r) for r in latest.values()),
        "latest": {
            spider: {key: r[key] for key in ("id", "status", "finished_at", "alerts", "steps")}
            for spider, r in sorted(latest.items())
        },
        "pages": counts,
        "runs": runs,
        # Per watch and target (URL with secrets masked): delivered, failing, lost to a crash.
        "notifications": archive.notifications.target_report(),
        **(
            {"plan": plan_report(archive, revisit_max_days)}
            if revisit_max_days and archive.plan.has_checks()
            else {}
        ),
    }


@dataclass(frozen=True)
class Column:
    """A column of the runs table. At a narrow width (80 columns) the columns with the lowest
    `keep` are left out first, so every header stays whole; 0 never goes."""

    field: str
    header: str
    keep: int = 0
    justify: str = "right"


RUN_COLUMNS = (
    Column("id", "id"),
    Column("spider", "spider", justify="left"),
    Column("started_at", "started UTC", keep=8, justify="left"),
    Column("duration_s", "took", keep=6, justify="left"),
    Column("status", "status", justify="left"),
    Column("budget", "budget", keep=7),
    *(Column(f.key, f.header, keep=f.keep) for f in FIGURES),
)


def _cell(run: dict[str, Any], field: str) -> str:
    value: Any = run.get(field)
    if field == "duration_s":
        value = "-" if value is None else f"{value:.0f}s"
    elif field == "started_at" and value:
        value = value[5:16].replace("T", " ")  # MM-DD HH:MM
    elif field == "alerts":
        value = len(value)
    elif field == "budget":  # requests to the site / the run's budget
        value = f"{run.get('budget_used') or 0}/{value}" if value else "-"
    elif field == "status":
        style = STATUS_STYLE.get(value, "red")
        value = f"[{style}]{value}[/{style}]"
    return str(value if value is not None else "-")


def runs_table(runs: list[dict[str, Any]], columns: tuple[Column, ...]) -> Table:
    table = Table(
        title="Recent runs",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
        show_edge=False,
    )
    for col in columns:
        table.add_column(col.header, justify=col.justify, no_wrap=True)  # type: ignore[arg-type]
    for run in runs:
        table.add_row(*(_cell(run, col.field) for col in columns))
    return table


def fit_columns(
    console: Console, columns: tuple[Column, ...], render: Callable[[tuple[Column, ...]], Table]
) -> tuple[Column, ...]:
    """The columns that fit the console's width, leaving out the least needed first."""
    shown = columns
    droppable = sorted((c for c in columns if c.keep), key=lambda c: c.keep)
    unbounded = console.options.update_width(UNBOUNDED)

    def width(cols: tuple[Column, ...]) -> int:
        return Measurement.get(console, unbounded, render(cols)).maximum

    while droppable and width(shown) > console.width:
        gone = droppable.pop(0)
        shown = tuple(c for c in shown if c is not gone)
    return shown


def print_status(report: dict[str, Any], console: Console) -> None:
    """A table for people; `--json` is for scripts."""
    runs = report["runs"]
    columns = fit_columns(console, RUN_COLUMNS, lambda cols: runs_table(runs, cols))
    console.print(runs_table(runs, columns))
    left_out = [c.header for c in RUN_COLUMNS if c not in columns]
    if left_out:
        console.print(
            f"(not shown at {console.width} columns: {', '.join(left_out)}; see `status --json`)",
            soft_wrap=False,
        )
    pages = report["pages"]
    console.print(
        "pages: "
        + ", ".join(
            f"{pages[f'{kind}_live']} {kind} live ({pages[f'{kind}_removed']} removed)"
            for kind in KINDS
        ),
        soft_wrap=False,  # prose is wrapped at the width, tables are fitted to it
    )
    if "plan" in report:
        print_plan(report["plan"], console)
    for spider, latest in report["latest"].items():
        for step in failed_steps(latest):
            console.print(
                f"[red]FAILED[/red] {spider} (run {latest['id']}) step {step['step']}:"
                f" {escape(step['error'])}"
            )
        for alert in latest["alerts"]:
            console.print(
                f"[red]ALERT[/red] {spider} (run {latest['id']}) {alert['check']}:"
                f" {escape(alert['message'])}"
            )
    _print_notifications(report["notifications"], console)
    console.print("[green]healthy[/green]" if report["healthy"] else "[red]unhealthy[/red]")


NOTIFY_COLUMNS = ("watch", "target", "events sent", "failing", "failures", "unknown", "last sent")
NOTIFY_TABLE_WIDTH = 110  # narrower consoles get a target per paragraph


def _print_notifications(targets: list[dict[str, Any]], console: Console) -> None:
    """A table where it fits; else each target as a short paragraph, so its label (the name
    an operator greps for, and finds in the config with `config show`) is never cut."""
    if not targets:
        return
    rows = [
        (
            escape(t["watch"]),
            escape(t["target"]),
            str(t["events_sent"]),
            f"[red]{t['consecutive_failures']} in a row[/red]"
            if t["consecutive_failures"]
            else "no",
            str(t["failures"]),
            str(t["events_unknown"]),
            t["last_sent_at"] or "-",
        )
        for t in targets
    ]
    if console.width < NOTIFY_TABLE_WIDTH:
        console.print("[bold]Notifications[/bold]")
        for watch, target, *figures in rows:
            console.print(f"  {watch}", no_wrap=True, overflow="ellipsis")
            console.print(f"    {target}", no_wrap=True, overflow="ignore", crop=False)
            named = [f"{n} {v}" for n, v in zip(NOTIFY_COLUMNS[2:], figures, strict=True)]
            console.print("    " + ", ".join(named[:-1]))
            console.print(f"    {named[-1]}")
        return
    table = Table(title="Notifications", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    for col in NOTIFY_COLUMNS:
        # Names and targets fold; numbers and headers stay whole.
        wrap = col in ("watch", "target")
        table.add_column(
            col, overflow="fold", no_wrap=not wrap, min_width=None if wrap else len(col)
        )
    for row in rows:
        table.add_row(*row)
    console.print(table)


def print_plan(plan: dict[str, Any], console: Console) -> None:
    backfill = ", ".join(
        f"{lang} {row['backfill']}" + (f" ({row['pages']} listing pages)" if row["pages"] else "")
        for lang, row in plan["listings"].items()
    )
    console.print(f"backfill: {backfill}", soft_wrap=False)
    for kind in KINDS:
        row = plan[kind]
        queued = ", ".join(f"{n} {name}" for name, n in row["queued"].items() if n) or "empty"
        console.print(
            f"{kind}: {row['overdue']} overdue (unchecked for {plan['revisit_max_days']:g} days),"
            f" oldest check {row['oldest_check'] or '-'}, queue {queued}",
            soft_wrap=False,
        )
