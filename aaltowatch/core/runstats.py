"""One spider run's figures, read once from Scrapy's stats and handed to health checks,
run summaries and metrics.

Spiders and the item pipeline write their counters as Scrapy stats under `aaltowatch/...`
(the spider's `count(key)`, the pipeline's `outcome/<key>` and `source/<field>:<source>`);
`RunStats.from_scrapy` is the one place that reads them back, so the sums (failed downloads,
new pages stored) are computed once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aaltowatch.core import bounds

PREFIX = "aaltowatch/"
# Scrapy's finish_reason when the crawl was asked to stop (SIGTERM/SIGINT).
STOPPED = "shutdown"
# The finish_reason of a run stopped because the site stopped answering (connection failures
# in a row: spiders.middlewares.UnreachableSiteMiddleware), and its stats: how many in a row,
# and the exception that ended the streak.
UNREACHABLE = "site_unreachable"
UNREACHABLE_STREAK = PREFIX + "unreachable/streak"
UNREACHABLE_ERROR = PREFIX + "unreachable/error"
_EXCEPTION_PREFIX = "downloader/exception_type_count/"


def _int(stats: Mapping[str, Any], key: str) -> int:
    return int(stats.get(key) or 0)


@dataclass(frozen=True)
class RunStats:
    """What one spider's run did, by name instead of by stats key."""

    finish_reason: str = ""
    run_id: int | None = None
    # downloads as Scrapy counts them (with retries and the spider's internal data: requests)
    requests: int = 0
    responses: int = 0
    retries: int = 0
    internal_requests: int = 0
    not_modified: int = 0
    skipped: int = 0
    # given up after retries, plus pages that could not be extracted
    failed: int = 0
    # discovered links that could not become a request (skipped; no download was tried)
    bad_links: int = 0
    empty_listings: int = 0
    plan_teasers: int = 0
    known_live: int = 0
    # what the item pipeline did with the pages (outcome/<key>)
    pages: int = 0
    unchanged: int = 0
    new: int = 0
    duplicates: int = 0
    modified: int = 0
    removed: int = 0
    moved: int = 0
    restored: int = 0
    flagged: int = 0
    gone: int = 0
    moving: int = 0
    mass_disappearance: bool = False
    mass_move: bool = False
    # "<field>:<source>" -> pages whose field came from that source
    sources: Mapping[str, int] = field(default_factory=dict)
    # exception class path -> downloads that failed with it
    exceptions: Mapping[str, int] = field(default_factory=dict)
    # bound name -> the limit reached
    bounds_reached: Mapping[str, Any] = field(default_factory=dict)
    # connection failures in a row that stopped the run (0: it was not stopped for that)
    unreachable_streak: int = 0
    unreachable_error: str = ""

    @classmethod
    def from_scrapy(cls, stats: Mapping[str, Any]) -> RunStats:
        """Read a crawler's final stats (`crawler.stats.get_stats()`)."""

        def own(key: str) -> int:
            return _int(stats, PREFIX + key)

        def outcome(key: str) -> int:
            return own("outcome/" + key)

        source_prefix = PREFIX + "source/"
        return cls(
            finish_reason=str(stats.get("finish_reason") or ""),
            run_id=stats.get(PREFIX + "run_id"),
            requests=_int(stats, "downloader/request_count"),
            responses=_int(stats, "downloader/response_count"),
            retries=_int(stats, "retry/count"),
            internal_requests=own("internal_requests"),
            not_modified=_int(stats, "downloader/response_status_count/304"),
            skipped=own("skipped_lastmod"),
            failed=own("errors") + own("extraction_errors"),
            bad_links=own("bad_links"),
            empty_listings=own("empty_listings"),
            plan_teasers=own("plan/teasers"),
            known_live=own("known_live"),
            pages=outcome("pages"),
            unchanged=outcome("unchanged"),
            new=outcome("new"),
            duplicates=outcome("duplicate"),
            modified=outcome("modified"),
            removed=outcome("removed"),
            moved=outcome("moved"),
            restored=outcome("restored"),
            flagged=outcome("flagged"),
            gone=outcome("gone"),
            moving=outcome("moving"),
            mass_disappearance=bool(outcome("mass_disappearance")),
            mass_move=bool(outcome("mass_move")),
            sources={
                k[len(source_prefix) :]: int(v)
                for k, v in stats.items()
                if k.startswith(source_prefix)
            },
            exceptions={
                k[len(_EXCEPTION_PREFIX) :]: int(v)
                for k, v in stats.items()
                if k.startswith(_EXCEPTION_PREFIX)
            },
            bounds_reached=bounds.reached(dict(stats)),
            unreachable_streak=_int(stats, UNREACHABLE_STREAK),
            unreachable_error=str(stats.get(UNREACHABLE_ERROR) or ""),
        )

    @property
    def stopped(self) -> bool:
        """Stopped by SIGTERM/SIGINT: what was stored is consistent, but the crawl is partial."""
        return self.finish_reason == STOPPED

    @property
    def errors(self) -> int:
        """The run's errors: failed downloads and pages, and links that could not be followed
        (kept out of the error rate, which is about downloads)."""
        return self.failed + self.bad_links

    @property
    def downloads(self) -> int:
        """Each URL counted once whatever its retries. The spider's internal requests are
        answered before Scrapy counts a request (spiders.boundary), so they are not in it."""
        return max(self.requests - self.retries, 0)

    @property
    def site_responses(self) -> int:
        """HTTP responses of any status from the site (internal data: requests answer 200 too)."""
        return self.responses - self.internal_requests

    @property
    def stored_new(self) -> int:
        """New pages stored, duplicates included: the `new` column of a run."""
        return self.new + self.duplicates
