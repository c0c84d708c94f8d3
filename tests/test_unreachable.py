"""An unreachable site stops the run after a few connection failures in a row, with one alert
whose figures are the run's own."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    ResponseDataLossError,
)
from scrapy.http import Response
from twisted.internet.error import DNSLookupError

from aaltowatch.core.config import Config, HealthThresholds
from aaltowatch.core.health import check_run
from aaltowatch.core.runstats import (
    ERRORS,
    INTERNAL_REQUESTS,
    UNREACHABLE,
    UNREACHABLE_ERROR,
    UNREACHABLE_STREAK,
    RunStats,
)
from aaltowatch.core.urls import SPIDER_NAMES
from aaltowatch.figures import FIGURES
from spiders.middlewares import UnreachableSiteMiddleware
from tests.conftest import run_cli
from tests.fakeengine import crawler_with_engine

SITE = "https://www.aalto.fi"


@pytest.fixture(autouse=True)
def _no_reactor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("spiders.middlewares._schedule_coro", lambda coro: None)


def middleware(limit: int = 3) -> UnreachableSiteMiddleware:
    crawler, _ = crawler_with_engine({"AALTOWATCH_CONFIG": Config()})
    return UnreachableSiteMiddleware(crawler, limit)


def fail(mw: UnreachableSiteMiddleware, exc: BaseException, path: str = "/en/news") -> Request:
    request = Request(SITE + path)
    assert mw.process_exception(request, exc) is None  # the spider's errback still runs
    return request


def answer(mw: UnreachableSiteMiddleware, status: int, path: str = "/en/news") -> None:
    request = Request(SITE + path)
    mw.process_response(request, Response(request.url, status=status, request=request))


def test_connection_failures_in_a_row_stop_the_run() -> None:
    mw = middleware(limit=3)
    fail(mw, CannotResolveHostError())
    fail(mw, DNSLookupError())
    last = fail(mw, DownloadConnectionRefusedError())
    assert mw.stopped and last.meta["dont_retry"]
    stats = mw.crawler.stats
    assert stats.get_value(UNREACHABLE_STREAK) == 3
    assert mw.crawler.engine.closed == [UNREACHABLE]
    # In flight when the run stopped: not retried, and not counted again.
    late = fail(mw, DownloadTimeoutError())
    assert late.meta["dont_retry"] and stats.get_value(UNREACHABLE_STREAK) == 3
    assert mw.crawler.engine.closed == [UNREACHABLE]  # closed once


def test_any_answer_ends_a_streak_and_other_errors_do_not_count() -> None:
    mw = middleware(limit=3)
    for _ in range(2):
        fail(mw, DownloadTimeoutError())
        answer(mw, 503)  # an HTTP 5xx is an answer: Scrapy's retries deal with it
    fail(mw, ResponseDataLossError())  # the site answered, badly
    fail(mw, DownloadTimeoutError())
    fail(mw, DownloadTimeoutError())
    assert not mw.stopped and mw.crawler.stats.get_value(UNREACHABLE_STREAK) is None
    # The spider's own phase steps (data:) are no answer of the site.
    step = Request("data:,")
    mw.process_response(step, Response("data:,", request=step))
    fail(mw, DownloadTimeoutError())
    assert mw.stopped


def test_zero_never_stops() -> None:
    mw = middleware(limit=0)
    for _ in range(50):
        request = fail(mw, DownloadConnectionRefusedError())
    assert not mw.stopped and "dont_retry" not in request.meta


def test_a_stopped_run_says_so_with_its_own_figures() -> None:
    stats = {
        "finish_reason": UNREACHABLE,
        "downloader/request_count": 40,
        "retry/count": 8,
        "downloader/response_count": 30,
        INTERNAL_REQUESTS: 1,
        UNREACHABLE_STREAK: 5,
        ERRORS: 3,
        UNREACHABLE_ERROR: "DownloadTimeoutError",
        "downloader/exception_type_count/scrapy.exceptions.DownloadTimeoutError": 10,
    }
    (alert,) = check_run("news", RunStats.from_scrapy(stats), HealthThresholds())
    assert alert.message == (
        "news: site unreachable, the last 5 of 40 requests got no answer (DownloadTimeoutError);"
        " stopped after 5 connection failures in a row (3 URLs given up, the rest not tried)"
    )


HEADER = {f.name: f.header for f in FIGURES}


def crawl_row(output: str, spider: str) -> dict[str, str]:
    """A spider's row of the crawl table (aaltowatch.crawlcmd), by column header."""
    lines = [line.split() for line in output.splitlines()]
    header = next(words for words in lines if words[:2] == ["spider", "run"])
    row = next(words for words in lines if words[:1] == [spider] and len(words) == len(header))
    return dict(zip(header, row, strict=True))


def closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_a_closed_port_ends_in_one_alert_per_spider_with_figures_that_agree(
    tmp_path: Path,
) -> None:
    """Default retries: each of the first few requests fails and is retried; the run stops
    after 5 failures in a row instead of trying every page."""
    db = tmp_path / "archive.db"
    started = time.monotonic()
    proc = run_cli(
        "--base-url", closed_port_url(), "--feeds-dir", str(tmp_path / "feeds"),
        "run", "--once", db=db, AALTOWATCH_RETRY_TIMES="3",
    )  # fmt: skip
    took = time.monotonic() - started
    assert proc.returncode == 3, proc.stderr
    status = run_cli("status", "--json", db=db)
    runs = {r["spider"]: r for r in json.loads(status.stdout)["runs"]}
    alerts = [line for line in proc.stderr.splitlines() if line.startswith("ALERT")]
    assert len(alerts) == len(SPIDER_NAMES), proc.stderr
    for alert, spider in zip(alerts, SPIDER_NAMES, strict=True):
        found = re.fullmatch(
            r"ALERT site_unreachable: \w+: site unreachable, none of ([0-9]+) requests got an"
            r" answer \(DownloadConnectionRefusedError\); stopped after 5 connection failures"
            r" in a row \(([0-9]+) URLs given up, the rest not tried\)",
            alert,
        )
        assert found, alert
        run = runs[spider]
        # The alert, the run's row and the crawl table say the same number of requests.
        assert int(found[1]) == run["requests"] and run["requests"] >= 5
        assert int(found[2]) == run["errors"]
        row = crawl_row(proc.stderr, spider)
        assert row[HEADER["requests"]] == str(run["requests"])
        assert row[HEADER["errors"]] == str(run["errors"])
        assert run["errors"] <= run["requests"]
    warnings = [line for line in proc.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) <= 4, warnings  # not one per page
    print(f"closed port: run --once took {took:.1f}s")
