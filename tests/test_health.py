"""health.check_run thresholds, table-driven; and the Spidermon suite that reuses it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from aaltowatch.core.config import HealthThresholds
from aaltowatch.core.health import CHECKS, check_run
from aaltowatch.core.runstats import (
    EMPTY_LISTINGS,
    ERRORS,
    EXTRACTION_ERRORS,
    INTERNAL_REQUESTS,
    KNOWN_LIVE,
    Counted,
    RunStats,
    outcome_key,
    source_key,
)

LIMITS = HealthThresholds(
    min_items=1, max_error_rate=0.2, min_field_coverage=0.8, max_missing_share=0.5
)


def news_stats(pages: int = 10, trusted: int | None = None, **extra: Any) -> dict[str, Any]:
    """Stats of a healthy news run of `pages` pages, `trusted` of them read by selectors."""
    trusted = pages if trusted is None else trusted
    stats: dict[str, Any] = {
        "finish_reason": "finished",
        "downloader/request_count": pages + 5,
        "downloader/response_count": pages + 5,
        outcome_key(Counted.PAGES): pages,
    }
    for name in ("title", "body", "published"):
        stats[source_key(name, "selector")] = trusted
        stats[source_key(name, "fallback")] = pages - trusted
    stats.update(extra)
    return stats


# `run --once` against a closed port: 7 downloads refused, each retried 3 times; the spider's
# three internal data: requests (phases) are answered before Scrapy counts a request, so they
# are only in the responses.
OFFLINE = {
    "finish_reason": "finished",
    "downloader/request_count": 28,
    "retry/count": 21,
    INTERNAL_REQUESTS: 3,
    "downloader/response_count": 3,
    ERRORS: 6,
    "downloader/exception_type_count/scrapy.exceptions.DownloadConnectionRefusedError": 28,
}
# The same, but two pages did answer: 4 of 7 downloads failed, not 4 of 28 requests.
PARTIAL_OUTAGE = {
    **news_stats(2),
    **OFFLINE,
    "downloader/response_count": 5,
    ERRORS: 4,
}

CASES = [
    ("healthy", "news", news_stats(), []),
    ("unchanged pages count as seen", "news",
     news_stats(0, **{outcome_key(Counted.UNCHANGED): 3}), []),
    ("no pages at all", "news", news_stats(0), ["zero_items"]),
    ("empty stats (crawl never started)", "news", {}, ["zero_items"]),
    ("error rate at the limit is fine", "news",
     news_stats(**{"downloader/request_count": 10, ERRORS: 2}), []),
    ("error rate above the limit", "news",
     news_stats(**{"downloader/request_count": 10, ERRORS: 2,
                   EXTRACTION_ERRORS: 1}), ["error_rate"]),
    ("coverage at the limit is fine", "news", news_stats(10, trusted=8), []),
    ("coverage below the limit: one alert per required field", "news",
     news_stats(10, trusted=7), ["layout_drift"] * 3),
    ("meta counts as trusted", "news",
     {**news_stats(10, trusted=0), **{source_key(n, "meta"): 10
                                       for n in ("title", "body", "published")}}, []),
    ("partnerships need no published date", "partnership",
     {**news_stats(4), source_key("published", "selector"): 0}, []),
    ("empty listings", "news", news_stats(**{EMPTY_LISTINGS: 2}), ["layout_drift"]),
    ("mass disappearance", "news",
     news_stats(**{outcome_key(Counted.MASS_DISAPPEARANCE): 1, outcome_key(Counted.GONE): 9,
                   KNOWN_LIVE: 10}), ["mass_disappearance"]),
    ("suspicious versions", "news",
     news_stats(**{outcome_key(Counted.FLAGGED): 2}), ["suspicious_versions"]),
    ("crawl ended early", "news",
     news_stats(finish_reason="closespider_timeout"), ["crawl_incomplete"]),
    ("a requested stop is not judged", "news",
     news_stats(0, finish_reason="shutdown"), []),
    ("nothing answered: site unreachable, alone", "news", OFFLINE, ["site_unreachable"]),
    ("retries and internal requests are not downloads", "news", PARTIAL_OUTAGE, ["error_rate"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "stats", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_check_run(kind: str, stats: dict[str, Any], expected: list[str]) -> None:
    alerts = check_run(kind, RunStats.from_scrapy(stats), LIMITS)
    assert [a.check for a in alerts] == expected
    assert all(a.message for a in alerts)


def test_thresholds_come_from_config() -> None:
    stats = news_stats(10, trusted=5)
    assert [a.check for a in check_run("news", RunStats.from_scrapy(stats), LIMITS)] == [
        "layout_drift"
    ] * 3
    relaxed = HealthThresholds(min_field_coverage=0.5)
    assert check_run("news", RunStats.from_scrapy(stats), relaxed) == []
    assert [
        a.check
        for a in check_run(
            "news", RunStats.from_scrapy(news_stats(3)), HealthThresholds(min_items=5)
        )
    ] == ["zero_items"]


def test_mass_disappearance_message_has_the_numbers() -> None:
    stats = news_stats(
        **{
            outcome_key(Counted.MASS_DISAPPEARANCE): 1,
            outcome_key(Counted.GONE): 9,
            KNOWN_LIVE: 10,
        }
    )
    (alert,) = check_run("news", RunStats.from_scrapy(stats), LIMITS)
    assert "9 of 10" in alert.message and "not marking them removed" in alert.message


class _Stats:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def set_value(self, key: str, value: Any) -> None:
        self.values[key] = value


class _Settings(dict):
    pass


class _Crawler:
    def __init__(self) -> None:
        from aaltowatch.core.config import Config

        self.settings = _Settings(AALTOWATCH_CONFIG=Config(health=LIMITS))
        self.stats = _Stats()


class _Spider:
    kind = "news"
    name = "news"

    def log(self, message: str, level: int = 0) -> None:
        """Spidermon's result writer logs through the spider."""


@pytest.mark.parametrize(
    ("stats", "failed"),
    [(news_stats(), set()), (news_stats(10, trusted=0), {"layout_drift"}),
     (news_stats(0), {"zero_items"})],
    ids=["healthy", "drift", "zero"],
)  # fmt: skip
def test_spidermon_suite_reports_the_same_checks(stats: dict[str, Any], failed: set[str]) -> None:
    """One monitor test per check; failures land in the crawl stats as spidermon/failed/<check>."""
    from spidermon.contrib.scrapy.runners import SpiderMonitorRunner

    from spiders.monitors import STATS_PREFIX, HealthMonitor, SpiderCloseMonitorSuite

    crawler = _Crawler()
    spider = _Spider()
    suite = SpiderCloseMonitorSuite(crawler=crawler)
    assert {m.method_name for m in suite.all_monitors} == set(CHECKS)
    assert all(isinstance(m, HealthMonitor) for m in suite.all_monitors)
    SpiderMonitorRunner(spider=spider).run(suite, stats=stats, crawler=crawler, spider=spider)
    assert {k.removeprefix(STATS_PREFIX) for k in crawler.stats.values} == failed


def test_outage_messages_use_the_runs_own_figures() -> None:
    """The alert's requests are the run's `requests` (as `status` and the crawl table show
    them); the error rate counts downloads, each URL once whatever its retries."""
    (unreachable,) = check_run("news", RunStats.from_scrapy(OFFLINE), LIMITS)
    assert unreachable.message == (
        "news: site unreachable, none of 28 requests got an answer (DownloadConnectionRefusedError)"
    )
    (rate,) = check_run("news", RunStats.from_scrapy(PARTIAL_OUTAGE), LIMITS)
    assert "4 of 7 downloads failed (57%" in rate.message


def test_every_registered_check_has_a_row_in_the_operations_alert_table() -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "operations.md").read_text("utf-8")
    rows = set(re.findall(r"^\| `([a-z_]+)` \|", docs, re.MULTILINE))
    assert set(CHECKS) <= rows, sorted(set(CHECKS) - rows)
