"""The crawl planner end to end on a living site of a few hundred pages on 127.0.0.1.

One archive goes through the life of an install, in order: the first run of a fresh install,
a run killed with SIGKILL and the run after it, the rest of the backfill, a new story at the
top of a listing, then removals and silent edits found by revalidating overdue pages. Every
run stays within its request budget.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest

from aaltowatch.core.urls import HUB_PATHS, LISTING_PATHS
from aaltowatch.testing.snapshot_server import SnapshotServer
from tests.conftest import CLI, cli_env, run_cli
from tests.livesite import LiveSite

BUDGET = 70
PUBLIC = "https://www.aalto.fi"


@pytest.fixture(scope="module")
def site() -> Iterator[LiveSite]:
    with LiveSite({"en": 96, "fi": 36, "sv": 36}) as server:
        yield server


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("planner")


def run(site: LiveSite, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """One `run --once --spider news` (crawl + feeds) against the site; returns the process."""
    site.clear_requests()
    env = {"AALTOWATCH_MAX_REQUESTS_PER_RUN": str(BUDGET), **env}
    proc = run_cli(
        "--base-url", site.url, "--feeds-dir", str(home / "feeds"), "run", "--once",
        "--spider", "news", db=home / "a.db", **env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(site.requests) <= BUDGET, Counter(site.paths())
    return proc


def query(home: Path, sql: str, *params: object) -> list[tuple]:
    return query_db(home / "a.db", sql, *params)


def stored(home: Path) -> set[str]:
    return {row[0] for row in query(home, "SELECT url FROM pages WHERE status = 'live'")}


def status(home: Path) -> dict:
    proc = run_cli("status", "--json", db=home / "a.db")
    return json.loads(proc.stdout)


def test_1_first_run_publishes_the_newest_stories_of_each_language(
    site: LiveSite, home: Path
) -> None:
    run(site, home)
    pages = stored(home)
    assert 20 <= len(pages) < len(site.stories)  # the budget, not the site, ended the run
    for lang in LISTING_PATHS:
        feed = feedparser.parse(str(home / "feeds" / f"news-{lang}.xml"))
        assert feed.bozo == 0 and feed.entries, lang
        newest = [PUBLIC + s.path for s in site.newest(lang, 3)]
        assert newest == [e.link for e in feed.entries[:3]], lang
    # Every fetch is a check, written with its page.
    checks = query(home, "SELECT outcome, COUNT(*) FROM checks GROUP BY outcome")
    assert dict(checks) == {"new": len(pages)}
    plan = status(home)["plan"]
    assert all(row["backfill"] != "done" for row in plan["listings"].values())
    run_row = status(home)["runs"][0]
    assert run_row["budget"] == BUDGET and run_row["budget_used"] <= BUDGET


def test_2_a_run_killed_with_sigkill_leaves_a_plan_the_next_run_continues(
    site: LiveSite, home: Path
) -> None:
    before = stored(home)
    cursors_before = {
        k: (v["passes"], v["next"]) for k, v in status(home)["plan"]["listings"].items()
    }
    site.clear_requests()
    site.delay_s = 0.05
    env = cli_env(AALTOWATCH_MAX_REQUESTS_PER_RUN=str(BUDGET))
    cmd = [*CLI, "--db", str(home / "a.db"), "--base-url", site.url, "crawl", "--no-progress",
           "--spider", "news"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while len(stored(home)) < len(before) + 8 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    site.delay_s = 0.0
    time.sleep(0.3)  # answers the server was still giving the dead crawler
    killed = stored(home)
    assert before < killed
    fetched_by_killed = Counter(p for p in site.article_requests())
    run(site, home)
    after = stored(home)
    assert killed < after  # the next run went on filling the archive...
    for path, count in Counter(site.article_requests()).items():
        # ...without fetching again from zero what the killed run had stored
        assert PUBLIC + path not in killed - before or count == 0, path
    assert fetched_by_killed
    cursors_after = {
        k: (v["passes"], v["next"]) for k, v in status(home)["plan"]["listings"].items()
    }
    assert all(cursors_after[k] >= cursors_before[k] for k in cursors_before)
    assert cursors_after != cursors_before
    runs = {r["status"] for r in status(home)["runs"]}
    assert "abandoned" in runs  # the SIGKILLed run, found dead by the next one


def test_3_the_backfill_completes_within_the_budget_and_loses_nothing(
    site: LiveSite, home: Path
) -> None:
    for _ in range(8):
        if all(r["backfill"] == "done" for r in status(home)["plan"]["listings"].values()):
            break
        run(site, home)
    run(site, home)  # the pages found only in sitemaps, if any, come last
    assert stored(home) == {PUBLIC + path for path in site.stories}
    uncategorised = query(
        home,
        "SELECT p.url FROM pages p JOIN versions v ON v.page_id = p.id"
        " AND v.version = p.current_version WHERE v.categories = '[]'",
    )
    assert not uncategorised  # backfilled by listings, whose teasers carry the categories
    assert query(home, "SELECT COUNT(*) FROM crawl_queue") == [(0,)]


def test_4_listings_are_read_to_the_known_frontier_only(site: LiveSite, home: Path) -> None:
    story = site.publish("en")
    run(site, home, AALTOWATCH_REVISIT_FILL_SHARE="0")  # the frontier alone, no fill
    assert PUBLIC + story.path in stored(home)
    feed = feedparser.parse(str(home / "feeds" / "news-en.xml"))
    assert feed.entries[0].link == PUBLIC + story.path
    en_pages = 1 + (sum(1 for s in site.stories.values() if s.lang == "en") - 1) // 12
    listing_reads = site.listing_requests("en")
    # page 0 (the new story), page 1 (all known: the frontier), one page of the sweep
    assert len(listing_reads) <= 3 < en_pages
    # The new story first; then at most this run's steady share of revalidations (1 here).
    assert site.article_requests()[0] == story.path and len(site.article_requests()) <= 2


def test_5_overdue_pages_are_revalidated_and_only_a_real_404_is_a_removal(
    site: LiveSite, home: Path
) -> None:
    oldest_checked = query(
        home,
        "SELECT p.url FROM pages p JOIN check_stats s ON s.page_id = p.id"
        " ORDER BY s.last_checked, p.url LIMIT 2",
    )
    gone, edited = (url.removeprefix(PUBLIC) for (url,) in oldest_checked)
    site.remove(gone)
    site.edit(edited, silent=True)  # neither the lastmod nor a teaser moves
    time.sleep(1.1)
    run(site, home, AALTOWATCH_REVISIT_MAX_DAYS="0.00001")  # about a second: all overdue
    # The budget left after discovery went to the pages checked longest ago.
    assert PUBLIC + gone not in stored(home)
    assert query(home, "SELECT url FROM pages WHERE status = 'removed'") == [(PUBLIC + gone,)]
    changes = dict(query(home, "SELECT url, change FROM changes WHERE change != 'new'"))
    assert changes == {PUBLIC + gone: "removed", PUBLIC + edited: "modified"}
    outcomes = dict(query(home, "SELECT outcome, COUNT(*) FROM checks GROUP BY outcome"))
    assert outcomes["gone"] == 1 and outcomes["changed"] == 1 and outcomes["not_modified"] > 10
    # The pages this run did not reach are simply not checked: still live, nothing removed.
    assert len(stored(home)) == len(site.stories)
    history = json.loads(run_cli("history", PUBLIC + edited, "--json", db=home / "a.db").stdout)
    assert history["checks"]["count"] >= 2 and history["checks"]["changed"] == 1
    assert history["checks"]["recent"][0]["outcome"] == "changed"
    overdue = status(home)["plan"]["news"]["overdue"]
    assert 0 <= overdue < len(site.stories)


def test_6_round_robin_spends_the_budget_on_the_least_recently_checked(
    site: LiveSite, home: Path
) -> None:
    before = dict(query(home, "SELECT page_id, last_checked FROM check_stats"))
    run(site, home, AALTOWATCH_REVISIT_POLICY="round_robin")
    revalidated = [p for p in site.article_requests()]
    assert len(revalidated) >= BUDGET // 2
    after = dict(query(home, "SELECT page_id, last_checked FROM check_stats"))
    moved = [page for page in after if after[page] != before.get(page)]
    untouched = [before[page] for page in before if page not in moved]
    assert max(before[page] for page in moved) <= min(untouched)


def test_7_a_stale_sitemap_entry_is_asked_for_once(site: LiveSite, home: Path) -> None:
    ghost = "/en/news/a-story-the-sitemap-still-lists"
    site.ghosts.append(ghost)
    asked = 0
    for _ in range(2):
        run(site, home)
        asked += site.paths().count(ghost)
    assert asked == 1
    assert query(home, "SELECT outcome, page_id FROM checks WHERE url = ?", PUBLIC + ghost) == [
        ("gone", None)
    ]
    assert query(home, "SELECT COUNT(*) FROM crawl_queue") == [(0,)]


def test_8_a_move_seen_from_its_new_url_first_is_one_event(site: LiveSite, home: Path) -> None:
    old = site.newest("en", 1)[0].path
    new = site.move(old)  # its new URL tops the listing; the planner has no reason to ask old
    run(site, home, AALTOWATCH_REVISIT_MIN_VALUE="1000", AALTOWATCH_REVISIT_FILL_SHARE="0")
    assert site.paths().count(old) == 1  # asked in the same run: it answers 301
    events = query(home, "SELECT change, moved_from FROM changes WHERE url = ?", PUBLIC + new)
    assert events == [("moved", PUBLIC + old)]  # not new + duplicate, nor removed
    assert query(home, "SELECT url, status FROM pages WHERE url IN (?, ?)", PUBLIC + old,
                 PUBLIC + new) == [(PUBLIC + new, "live")]  # fmt: skip
    assert query(home, "SELECT new, moved FROM runs ORDER BY id DESC LIMIT 1") == [(0, 1)]


def test_partnerships_hubs_every_run_the_rest_under_the_budget(tmp_path: Path) -> None:
    """A budget smaller than the partnership section: the hubs every run, new pages first,
    then the known ones as the revisit policy picks them; nothing is ever over the budget."""
    db, budget = tmp_path / "p.db", 12
    hubs = set(HUB_PATHS.values())
    with SnapshotServer("state-1") as server:
        stored_after = []
        for _ in range(3):
            server.clear_requests()
            proc = run_cli(
                "--base-url", server.url, "crawl", "--spider", "partnerships", "--no-progress",
                db=db, AALTOWATCH_MAX_REQUESTS_PER_RUN=str(budget),
            )  # fmt: skip
            assert proc.returncode == 0, proc.stderr[-2000:]
            paths = [r.path for r in server.requests]
            assert len(paths) <= budget
            assert hubs <= set(paths)
            stored_after.append(
                query_db(db, "SELECT COUNT(*) FROM pages WHERE kind = 'partnership'")[0][0]
            )
    assert stored_after[0] < stored_after[1] == stored_after[2]  # the queue was worked off
    assert query_db(db, "SELECT COUNT(*) FROM crawl_queue") == [(0,)]


def query_db(db: Path, sql: str, *params: object) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
