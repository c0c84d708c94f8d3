"""Health that sees broken runs: killed runs, mass moves and removals, failed feed writes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import feedparser
import pytest

from aaltowatch.core.lock import run_lock
from aaltowatch.core.runstats import outcome_key
from pipeline.history import SOFT_404
from tests.conftest import crawl, run_cli
from tests.faultserver import NORDIC_STORIES, STORIES, Fault, FaultServer, Page
from tests.test_faults import FAST, copy_db, export

FIRST, SECOND = (f"/en/news/{slug}" for slug in STORIES)
FI_STORY, SV_STORY = NORDIC_STORIES
PUBLIC = "https://www.aalto.fi"

# A crawl process that dies the hard way (OOM killer, kill -9) right after its run started.
DIE_MID_RUN = """
import os, signal, sys
from storage import open_archive
archive = open_archive(sys.argv[1])
archive.runs.start_run("news", "http://127.0.0.1:1")
os.kill(os.getpid(), signal.SIGKILL)
"""


def killed_run(db: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", DIE_MID_RUN, str(db)], check=False)
    assert proc.returncode == -signal.SIGKILL


def status(db: Path) -> tuple[int, dict[str, Any]]:
    proc = run_cli("status", "--json", db=db)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One good news crawl of the fault site (four known pages)."""
    db = tmp_path_factory.mktemp("health") / "baseline.db"
    with FaultServer() as srv:
        proc = crawl(db, srv.url, spider="news", **FAST)
    assert proc.returncode == 0, proc.stderr
    return db


@pytest.fixture
def site(baseline: Path, tmp_path: Path) -> Any:
    db = copy_db(baseline, tmp_path / "archive.db")
    with FaultServer(max_requests=300) as srv:
        yield srv, db


def test_killed_runs_make_status_unhealthy_and_are_closed_by_the_next_run(site) -> None:
    srv, db = site
    assert status(db)[0] == 0
    for _ in range(3):
        killed_run(db)
    code, report = status(db)
    assert code == 3 and report["healthy"] is False
    latest = report["latest"]["news"]
    assert latest["status"] == "abandoned"
    assert [a["check"] for a in latest["alerts"]] == ["run_abandoned"]
    text = run_cli("status", db=db)
    assert text.returncode == 3 and "run_abandoned" in text.stdout

    feeds = db.parent / "feeds"
    proc = run_cli("--base-url", srv.url, "--feeds-dir", str(feeds), "run", "--once",
                   "--spider", "news", db=db, **FAST)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "never finished" in proc.stderr
    statuses = query(db, "SELECT status, exit_code FROM runs ORDER BY id")
    assert statuses == [("ok", 0), ("abandoned", 1), ("abandoned", 1), ("abandoned", 1), ("ok", 0)]
    assert query(db, "SELECT COUNT(*) FROM alerts WHERE check_name = 'run_abandoned'") == [(3,)]
    health = feedparser.parse(str(feeds / "health.xml"))
    assert health.bozo == 0
    assert sum("run_abandoned" in e.title for e in health.entries) == 3
    assert status(db)[0] == 0  # the run after them was clean


def test_a_run_that_holds_the_lock_is_not_stale(site, tmp_path: Path) -> None:
    _, db = site
    killed_run(db)  # its row says running; while the lock is held, a run is alive
    with run_lock(db.with_suffix(".lock")):
        assert status(db)[0] == 0
    assert status(db)[0] == 3


def test_mass_move_records_no_moves(site) -> None:
    srv, db = site
    before = export(db)
    for path in (FIRST, FI_STORY, SV_STORY):  # every other article answers 301 to one article
        srv.set_page(path, Page(Fault.redirect(SECOND)))
    proc = crawl(db, srv.url, spider="news", **FAST)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    code, report = status(db)
    assert code == 3
    assert [a["check"] for a in report["latest"]["news"]["alerts"]] == ["mass_move"]
    assert "3 of 4" in report["latest"]["news"]["alerts"][0]["message"]
    assert query(db, "SELECT COUNT(*) FROM changes WHERE change = 'moved'") == [(0,)]
    assert {url: row["status"] for url, row in export(db).items()} == {
        url: "live" for url in before
    }


def test_one_move_is_still_a_move(site) -> None:
    srv, db = site
    srv.set_page(FIRST, Page(Fault.redirect(SECOND)))
    proc = crawl(db, srv.url, spider="news", **FAST)
    assert proc.returncode == 0, proc.stderr
    assert query(db, "SELECT url, moved_from FROM changes WHERE change = 'moved'") == [
        (PUBLIC + SECOND, PUBLIC + FIRST)
    ]


def test_half_the_pages_gone_at_once_removes_nothing(site) -> None:
    srv, db = site
    for path in (FI_STORY, SV_STORY):  # 2 of 4: at the old 50% limit, below it nothing alerted
        srv.set_page(path, Page(Fault.status(404)))
    proc = crawl(db, srv.url, spider="news", **FAST)
    assert proc.returncode == 3, proc.stderr
    code, report = status(db)
    assert code == 3
    assert [a["check"] for a in report["latest"]["news"]["alerts"]] == ["mass_disappearance"]
    assert query(db, "SELECT COUNT(*) FROM changes WHERE change = 'removed'") == [(0,)]


def test_a_failed_feed_write_is_recorded_as_failed(site) -> None:
    srv, db = site
    blocker = db.parent / "not-a-dir"
    blocker.write_text("a file where the feeds directory should be")
    proc = run_cli("--base-url", srv.url, "--feeds-dir", str(blocker / "feeds"), "run", "--once",
                   "--spider", "news", db=db, **FAST)  # fmt: skip
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert query(db, "SELECT status, exit_code FROM runs ORDER BY id DESC LIMIT 1") == [
        ("failed", 1)
    ]
    code, report = status(db)
    assert code == 3
    # The health step writes to the same directory, so it failed too (aaltowatch.steps).
    assert [a["check"] for a in report["latest"]["news"]["alerts"]] == [
        "health_failed",
        "feeds_failed",
    ]
    failed = [s["step"] for s in report["latest"]["news"]["steps"] if s["outcome"] == "failed"]
    assert failed == ["feeds", "health"]


def test_lock_probe_never_creates_the_lock_file(tmp_path: Path) -> None:
    from aaltowatch.core.lock import lock_is_free

    path = tmp_path / "x.lock"
    assert lock_is_free(path) and not path.exists()
    with run_lock(path):
        assert not lock_is_free(path)
    assert lock_is_free(path)
    os.remove(path)


NOT_FOUND_TEMPLATE = Path(__file__).parents[1] / "aaltowatch/snapshot/state-1/_errors/404.html"
OTHER_SITES_404 = (
    '<html><head><title>404 - Sivua ei löytynyt</title></head><body class="error404">'
    "<main><h1>Sivua ei löytynyt</h1><p>Hae sivustolta.</p></main></body></html>"
)


def test_a_new_url_serving_the_error_page_is_not_published(site) -> None:
    srv, db = site
    new = "/en/news/brand-new-story"
    srv.set_page(new, Page(Fault.ok(NOT_FOUND_TEMPLATE.read_bytes())))
    sitemap = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/'
        f'schemas/sitemap/0.9"><url><loc>{PUBLIC}{new}</loc></url></urlset>'
    )
    srv.set_page("/sitemap.xml", Page(Fault.ok(sitemap, "application/xml")))
    feeds = db.parent / "feeds"
    proc = run_cli("--base-url", srv.url, "--feeds-dir", str(feeds), "run", "--once",
                   "--spider", "news", db=db, **FAST)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert [r.status for r in srv.requests if r.path == new] == [200]
    assert "soft 404" in proc.stderr
    assert PUBLIC + new not in export(db)
    assert query(db, "SELECT COUNT(*) FROM changes WHERE url LIKE '%brand-new%'") == [(0,)]
    stats = json.loads(query(db, "SELECT stats FROM runs ORDER BY id DESC LIMIT 1")[0][0])
    assert stats[outcome_key(SOFT_404)] == 1
    news = feedparser.parse(str(feeds / "news-en.xml"))
    assert "Page not found" not in {e.title for e in news.entries}


@pytest.mark.parametrize(
    ("html", "error_page"),
    [
        (NOT_FOUND_TEMPLATE.read_text(encoding="utf-8"), True),
        (OTHER_SITES_404, True),
        # An article about errors keeps its article markup and is no error page.
        ('<html><head><title>Error 404 explained | Aalto University</title></head><body>'
         '<main><div class="aalto-article"><div class="aalto-article__top"><h1>Error 404 '
         'explained</h1></div><div class="aalto-user-generated-content"><p>Why pages vanish.'
         "</p></div></div></main></body></html>", False),
        ("<html><head><title>Campus news</title><meta name='robots' content='noindex'></head>"
         "<body><main><h1>Campus news</h1><p>Text.</p></main></body></html>", False),
    ],
)  # fmt: skip
def test_error_page_signals(html: str, error_page: bool) -> None:
    from pages import parse_article

    item = parse_article(html.encode(), PUBLIC + "/en/news/some-story")
    assert ("soft_404" in item.flags) is error_page


def test_abandoned_runs_reach_health_xml_before_the_next_crawl(site) -> None:
    """A run that dies like the ones before it has still published their alert."""
    import time

    from tests.conftest import CLI, cli_env

    srv, db = site
    killed_run(db)
    srv.add_faults(FIRST, Fault.slow(3), Fault.slow(3))  # keeps the next crawl busy a while
    health = db.parent / "feeds" / "health.xml"
    cmd = [*CLI, "--db", str(db), "--base-url", srv.url, "--feeds-dir", str(health.parent),
           "run", "--once", "--spider", "news"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=cli_env(**FAST), stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not health.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        published = time.monotonic()
        entries = feedparser.parse(str(health)).entries
        assert [e.title for e in entries if "run_abandoned" in e.title], entries
        proc.wait(timeout=60)
        # The slow page alone takes two timeouts (2 x 2 s): the alert came before the crawl.
        assert time.monotonic() - published > 3
    finally:
        proc.kill()
        proc.wait(timeout=10)
