"""No per-run query scans a table that grows with the archive's age.

The statements are collected, not listed: every SQL statement a crawl (two states of the
snapshot: new, modified, moved, removed pages) and a run's fixed work (planner, feeds with
watches, notifications, status, `changes --since`) sends is traced, then each distinct one is
explained (EXPLAIN QUERY PLAN) against a generated archive of two weeks of operation with
SQLite's statistics (ANALYZE), as a long-lived archive has them (`PRAGMA optimize` on close).
A new query is covered without touching this test.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from aaltowatch.testing.snapshot_server import SnapshotServer
from bench import archive_age, archive_gen
from storage import open_archive
from storage.watches import create_docs_table
from tests.conftest import cli_env
from tests.sqltrace import trace_into

# Tables whose rows accumulate run after run: a scan of one costs more every year.
GROWING = {
    "pages", "versions", "changes", "checks", "runs", "alerts", "responses", "fetches",
    "notifications", "check_stats", "page_categories",
}  # fmt: skip

# Scans allowed, each with why its cost does not grow with the archive's age.
JUSTIFIED = {
    r"ORDER BY (\w+\.)?id DESC LIMIT \?\)?( ORDER BY id)?$": "newest first with a LIMIT:"
    " reads back from the newest row and stops at the limit",
    r"^SELECT url FROM pages WHERE status = \? AND kind = \? ORDER BY url$": "every live page"
    " of a kind (the sitemaps' complement): the site's size, once a run",
    r"FROM pages p LEFT JOIN versions v ON v.page_id = p.id AND v.version = p.current_version"
    r" LEFT JOIN fetches f ON f.url = p.url WHERE p.kind = \?": "the partner registry rebuilt"
    " from every partnership page: the site's size, once a run",
    r"FROM pages p LEFT JOIN check_stats s ON s.page_id = p.id WHERE p.status = \?": "status:"
    " overdue pages among all live pages, the site's size",
    r"^SELECT (COUNT\(\*\)|COALESCE\(SUM\(version_count\), \?\)) FROM pages$": "totals:"
    " pages and their versions, the site's size",
    r"^SELECT category FROM page_categories GROUP BY": "the largest categories: one pass over"
    " the category index, the site's size, once a run",
    r"^SELECT raw_sha256 FROM fetches WHERE raw_sha256 IS NOT NULL ORDER BY fetched_at": (
        "samples for the raw-body dictionary: only until the archive has one (trained once)"
    ),
    r"^SELECT substr\(COALESCE\(published, first_seen\), \?, \?\) AS month, lang, COUNT\(\*\)"
    r" AS count FROM news": "dashboard: every live news item by month, the site's size",
    r"^SELECT month, category, SUM\(count\) AS count FROM category_counts_by_month": "dashboard:"
    " every live news item by category and month, the site's size",
    r"^SELECT partner, month, SUM\(count\) AS count FROM partner_mentions_by_month": "dashboard:"
    " news mentioning each partner, the site's size",
}

STRING = re.compile(r"'(?:[^']|'')*'")
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
NOT_A_QUERY = re.compile(
    r"^(--|PRAGMA|BEGIN|COMMIT|ROLLBACK|CREATE|DROP|ANALYZE|SAVEPOINT|RELEASE|VACUUM|ALTER)",
    re.IGNORECASE,
)
ALIAS = re.compile(r"\b(?:FROM|JOIN)\s+(\w+)(?:\s+(?:AS\s+)?(?!ON\b|WHERE\b|JOIN\b|LEFT\b)(\w+))?")
SCAN = re.compile(r"^SCAN (\w+)")


def normalised(sql: str) -> str:
    """The statement with its values as `?`: one entry per query, whatever it was asked."""
    return NUMBER.sub("?", STRING.sub("?", sql)).rstrip(";").strip()


def statements(trace: Path) -> dict[str, str]:
    """Distinct queries (normalised -> one traced example) of a trace file."""
    out: dict[str, str] = {}
    for line in trace.read_text(encoding="utf-8").splitlines():
        if line and not NOT_A_QUERY.match(line):
            out.setdefault(normalised(line), line)
    return out


def growing_scans(conn: sqlite3.Connection, sql: str) -> list[str]:
    """The plan's full scans of growing tables (aliases resolved)."""
    tables = {}
    for table, alias in ALIAS.findall(sql):
        tables[table] = table
        if alias:
            tables[alias] = table
    plan = conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
    return [
        detail
        for *_, detail in plan
        if (m := SCAN.match(detail)) and tables.get(m.group(1), m.group(1)) in GROWING
    ]


@pytest.fixture(scope="module")
def aged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two weeks of operation, 48 runs a day, at 2 % of the site's 20,000 pages."""
    db = tmp_path_factory.mktemp("aged") / "aged.db"
    archive_gen.generate_age(db, 14, scale=0.02)
    return db


@pytest.fixture(scope="module")
def traced(aged: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    work = tmp_path_factory.mktemp("traced")
    trace = work / "trace.sql"
    crawled = work / "crawled.db"
    open_archive(crawled).close()  # its migrations are not per-run work
    with SnapshotServer("state-1") as server:
        for state in ("state-1", "state-2"):
            server.set_state(state)
            proc = subprocess.run(
                [sys.executable, "-m", "tests.sqltrace", str(trace), "--", "--db", str(crawled),
                 "--base-url", server.url, "crawl", "--no-progress"],
                env=cli_env(), capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            assert proc.returncode == 0, proc.stderr
    run_db = work / "run.db"
    shutil.copyfile(aged, run_db)
    from aaltowatch.notify.deliver import after_run, register
    from aaltowatch.publish import publish_feeds
    from aaltowatch.status import status_report

    end = archive_gen.START + timedelta(days=14)
    now = end.strftime("%Y-%m-%dT%H:%M:%SZ")
    with (
        archive_age.sink() as target,
        trace.open("a", encoding="utf-8") as out,  # closed after the archive's own last SQL
        open_archive(run_db) as archive,
    ):
        trace_into(archive.conn, out)
        config = archive_age.config_for(run_db, work / "feeds", target, watches=True)
        register(archive, config.watches)
        run_id = archive_age.record_a_run(archive, now)
        archive_age.plan_revisits(archive, config, end)
        publish_feeds(archive, config)
        after_run(config, archive, run_id)
        status_report(archive, revisit_max_days=config.revisit_max_days)
        archive.queries.changes(since=now)
        archive.queries.changes(run_id=run_id)
        archive.runs.alerts(run_id=run_id)
        archive.runs.running_runs()
        archive.runs.first_run_started()
        archive.queries.totals()
    return statements(trace)


def test_the_trace_covers_a_runs_work(traced: dict[str, str]) -> None:
    text = "\n".join(traced)
    for needle in (
        "INSERT INTO versions", "FROM pages WHERE duplicate_of", "FROM changes c JOIN pages p",
        "FROM page_categories", "FROM changes_weekly", "INSERT INTO checks", "FROM runs",
    ):  # fmt: skip
        assert needle in text, needle


def test_no_per_run_query_scans_a_growing_table(aged: Path, traced: dict[str, str]) -> None:
    conn = sqlite3.connect(aged)
    create_docs_table(conn)  # the watches' per-batch table (temp), as their connection has it
    unjustified = {}
    for query, example in traced.items():
        scans = growing_scans(conn, example)
        if scans and not any(re.search(pattern, query) for pattern in JUSTIFIED):
            unjustified[query] = scans
    conn.close()
    assert unjustified == {}


def test_a_scan_is_seen_where_there_is_one(aged: Path) -> None:
    """The check itself: the duplicate lookup without its index (before 0007) is a scan."""
    sql = "SELECT id, url FROM pages WHERE duplicate_of = 'x' AND status = 'live'"
    with sqlite3.connect(aged) as conn:
        assert growing_scans(conn, sql) == []
    older = aged.with_name("without-index.db")
    shutil.copyfile(aged, older)
    with sqlite3.connect(older) as conn:
        conn.execute("DROP INDEX pages_duplicate_of")
    with sqlite3.connect(older) as conn:
        assert growing_scans(conn, sql) == ["SCAN pages"]
