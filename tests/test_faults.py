"""Real crawls against a misbehaving server: page-level faults never cost stored history.

Every case starts from one archive built by a good crawl, crawls the same site while a fault
is injected, and then checks the contract: the run finishes (exit 0 or 3, never a traceback),
the fault is recorded (run errors or alerts in `status --json`), `export` still shows every
page live with the same versions, and the next normal run recovers with a clean run.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import crawl, run_cli
from tests.faultserver import (
    INVALID_HTML,
    NORDIC_STORIES,
    STORIES,
    Fault,
    FaultServer,
    Page,
    article_html,
    robots_page,
    site_pages,
)

# Short timeouts and one retry keep each faulty crawl to a few seconds.
FAST = {"AALTOWATCH_RETRY_TIMES": "1", "AALTOWATCH_DOWNLOAD_TIMEOUT": "2"}
FIRST, SECOND = (f"/en/news/{slug}" for slug in STORIES)
FI_STORY, SV_STORY = NORDIC_STORIES
PUBLIC = "https://www.aalto.fi"


def export(db: Path) -> dict[str, dict[str, Any]]:
    """`aaltowatch export --format ndjson`, keyed by URL."""
    proc = run_cli("export", "--format", "ndjson", db=db, check=True)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return {row["url"]: row for row in rows}


def last_run(db: Path) -> dict[str, Any]:
    """The newest run of `aaltowatch status --json` (exit 3 just means unhealthy)."""
    proc = run_cli("status", "--json", db=db)
    assert proc.returncode in (0, 3), proc.stderr
    return json.loads(proc.stdout)["runs"][0]


def copy_db(source: Path, target: Path) -> Path:
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    src.backup(dst)
    src.close()
    dst.close()
    return target


def heal(srv: FaultServer) -> None:
    """Back to the normal site: every route's default, no faults left queued."""
    for path, page in site_pages().items():
        srv.set_page(path, page)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    """One good crawl of the fault site: the archive every case starts from, and its export."""
    db = tmp_path_factory.mktemp("faults") / "baseline.db"
    with FaultServer() as srv:
        proc = crawl(db, srv.url, spider="news", **FAST)
    assert proc.returncode == 0, proc.stderr
    pages = export(db)
    assert len(pages) == len(STORIES) + len(NORDIC_STORIES)
    return db, pages


@pytest.fixture
def site(
    baseline: tuple[Path, dict[str, dict[str, Any]]], tmp_path: Path
) -> Iterator[tuple[FaultServer, Path]]:
    """A fresh fault server and a private copy of the baseline archive."""
    db = copy_db(baseline[0], tmp_path / "archive.db")
    with FaultServer(max_requests=300) as srv:
        yield srv, db


def faulty_crawl(srv: FaultServer, db: Path, **env: str) -> str:
    """Crawl during a fault; it must end like a run (0 or 3), never like a crash. Returns stderr."""
    proc = crawl(db, srv.url, spider="news", **{**FAST, **env})
    assert proc.returncode in (0, 3), proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


def comparable(pages: dict[str, dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {
        url: (row["status"], row["version_count"], row["content_hash"], row["title"])
        for url, row in pages.items()
    }


def assert_intact(db: Path, before: dict[str, dict[str, Any]]) -> None:
    """Same pages, all live, same versions: a fault never removes or rewrites history."""
    after = export(db)
    assert comparable(after) == comparable(before)
    assert {row["status"] for row in after.values()} == {"live"}


def assert_recovers(srv: FaultServer, db: Path, before: dict[str, dict[str, Any]]) -> None:
    """The next normal run is clean and leaves the archive as the good crawl had it."""
    heal(srv)
    proc = crawl(db, srv.url, spider="news", **FAST)
    assert proc.returncode == 0, proc.stderr
    run = last_run(db)
    assert run["status"] == "ok", run
    assert run["errors"] == 0 and run["alerts"] == [], run
    assert_intact(db, before)


def assert_error_recorded(db: Path, at_least: int = 1) -> dict[str, Any]:
    run = last_run(db)
    assert run["errors"] >= at_least or run["alerts"], run
    return run


def hits(srv: FaultServer, path: str) -> list[int]:
    return [r.status for r in srv.requests if r.path == path]


def test_5xx_bursts_are_errors_then_recover(site, baseline) -> None:
    srv, db = site
    srv.add_faults("/en/news", Fault.status(503), Fault.status(503))
    srv.add_faults(FIRST, Fault.status(500), Fault.status(500))
    srv.add_faults(SECOND, Fault.status(502), Fault.ok(article_html(SECOND)))
    faulty_crawl(srv, db)
    assert hits(srv, "/en/news") == [503, 503]  # one retry, then given up
    assert hits(srv, FIRST) == [500, 500]
    assert hits(srv, SECOND) == [502, 304]  # a burst shorter than the retries is absorbed
    assert assert_error_recorded(db, at_least=2)["errors"] == 2
    assert_intact(db, baseline[1])
    assert_recovers(srv, db, baseline[1])


def test_429_retry_after_is_honoured(site, baseline) -> None:
    srv, db = site
    too_many = Fault.status(429, headers={"Retry-After": "1"})
    srv.add_faults(FIRST, too_many, too_many)
    faulty_crawl(srv, db, AALTOWATCH_CRAWL_DELAY_CAP="5")
    assert hits(srv, FIRST) == [429, 429]
    first, retry = srv.times(FIRST)
    assert retry - first >= 0.9, "the retry did not wait for Retry-After"
    assert_error_recorded(db)
    assert_intact(db, baseline[1])
    assert_recovers(srv, db, baseline[1])


def test_connection_resets(site, baseline) -> None:
    srv, db = site
    # Every request resets: Twisted itself resends once on a reused keep-alive connection.
    srv.set_page(SECOND, Page(Fault.reset()))
    srv.set_page("/sitemap.xml", Page(Fault.reset()))
    faulty_crawl(srv, db)
    assert 2 <= len(hits(srv, SECOND)) <= 4 and set(hits(srv, SECOND)) == {0}
    assert_error_recorded(db, at_least=2)
    assert_intact(db, baseline[1])
    assert_recovers(srv, db, baseline[1])


def test_truncated_bodies_are_not_stored(site, baseline) -> None:
    srv, db = site
    body = article_html(FIRST).encode()
    # Half a page parses fine as HTML: only the short read shows it is not the page.
    short = Fault.truncated(body[: len(body) // 2], len(body))
    srv.add_faults(FIRST, short, short)
    faulty_crawl(srv, db)
    assert len(hits(srv, FIRST)) == 2
    assert_error_recorded(db)
    assert_intact(db, baseline[1])
    assert_recovers(srv, db, baseline[1])


def test_slow_responses_time_out(site, baseline) -> None:
    srv, db = site
    srv.add_faults(SECOND, Fault.slow(3), Fault.slow(3))
    faulty_crawl(srv, db, AALTOWATCH_DOWNLOAD_TIMEOUT="1")
    assert_error_recorded(db)
    assert_intact(db, baseline[1])
    assert_recovers(srv, db, baseline[1])


def test_redirect_loops_end(site, baseline) -> None:
    srv, db = site
    loop = "/en/news/loop-target"
    srv.set_page(loop, Page(Fault.redirect(FIRST)))
    srv.add_faults(FIRST, *[Fault.redirect(loop) for _ in range(50)])
    faulty_crawl(srv, db)
    assert len(hits(srv, FIRST)) + len(hits(srv, loop)) <= 12, "the redirect loop was followed"
    assert_error_recorded(db)
    assert_intact(db, baseline[1])
    assert_recovers(srv, db, baseline[1])


def test_huge_pages_are_skipped_and_logged(site, baseline) -> None:
    srv, db = site
    srv.add_faults(FIRST, Fault.huge(20), Fault.huge(20))
    srv.add_faults(SECOND, Fault.huge(20, chunked=True), Fault.huge(20, chunked=True))
    stderr = faulty_crawl(srv, db, AALTOWATCH_MAX_PAGE_BYTES=str(2**20))
    assert "max size" in stderr or "maxsize" in stderr, stderr
    assert FIRST.rsplit("/", 1)[1] in stderr and SECOND.rsplit("/", 1)[1] in stderr
    assert_error_recorded(db, at_least=2)
    assert_intact(db, baseline[1])
    assert_recovers(srv, db, baseline[1])


def test_wrong_and_missing_charsets_decode_right(site, baseline) -> None:
    """cp1252 bytes labelled UTF-8, and UTF-8 with no charset anywhere: same text, no version."""
    srv, db = site
    fi_text = article_html(FI_STORY)
    srv.set_page(FI_STORY, Page(Fault.ok(fi_text.encode("cp1252"), "text/html; charset=utf-8")))
    sv_text = article_html(SV_STORY, charset=None)
    srv.set_page(SV_STORY, Page(Fault.ok(sv_text.encode("utf-8"), "text/html")))
    faulty_crawl(srv, db)
    assert hits(srv, FI_STORY) == [200] and hits(srv, SV_STORY) == [200]  # new bytes, re-read
    pages = export(db)
    for path in (FI_STORY, SV_STORY):
        title = NORDIC_STORIES[path][0]
        assert pages[PUBLIC + path]["title"] == title
        assert f"Body text of {title}" in pages[PUBLIC + path]["body"]
    assert_intact(db, baseline[1])
    assert_recovers(srv, db, baseline[1])


def test_utf8_labelled_latin1_decodes_right(site, baseline) -> None:
    srv, db = site
    body = article_html(FI_STORY).encode("utf-8") + b"\n"  # new bytes: no 304
    srv.set_page(FI_STORY, Page(Fault.ok(body, "text/html; charset=iso-8859-1")))
    faulty_crawl(srv, db)
    assert hits(srv, FI_STORY) == [200]
    assert export(db)[PUBLIC + FI_STORY]["title"] == NORDIC_STORIES[FI_STORY][0]
    assert_intact(db, baseline[1])


def test_invalid_html_never_replaces_a_good_version(site, baseline) -> None:
    srv, db = site
    srv.add_faults(FIRST, Fault.ok(INVALID_HTML))
    faulty_crawl(srv, db)
    assert hits(srv, FIRST) == [200]
    assert_error_recorded(db)
    assert_intact(db, baseline[1])
    assert_recovers(srv, db, baseline[1])


def test_robots_disallowed_section_is_never_requested(site, baseline) -> None:
    srv, db = site
    srv.set_page("/robots.txt", robots_page(["/en/search", "/sv/"]))
    faulty_crawl(srv, db)
    assert [r.path for r in srv.requests if r.path.startswith("/sv/")] == []
    assert hits(srv, "/fi/uutiset") == [304]  # the rest of the site was still crawled
    assert_intact(db, baseline[1])
    assert_recovers(srv, db, baseline[1])
    assert hits(srv, SV_STORY) == [304]
