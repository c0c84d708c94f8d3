"""One spider run's figures, read once from Scrapy's stats and handed to health checks,
run summaries and metrics.

Spiders and the item pipeline write their counters as Scrapy stats under `aaltowatch/...`
(the keys below); `RunStats.from_scrapy` is the one place that reads them back, so the sums
(failed downloads, new pages stored) are computed once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aaltowatch.core import bounds
from aaltowatch.core.enums import ChangeKind

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

# The stats keys a run's figures are read from. Their writers are the spiders and the item
# pipeline, which import them from here: both they and the reader (`RunStats`, run by the
# application and by the spiders' Spidermon monitors) sit on the core, and the spiders may not
# import the pipeline. Keys nothing in the core reads live with their writer (spiders/stats.py,
# spiders/robots.py, pipeline/scrapy_pipeline.py, ...).
# Written by the spiders (spiders.base.AaltoSpider.count) ...
INTERNAL_REQUESTS = PREFIX + "internal_requests"  # data: URLs, answered without a download
SKIPPED_LASTMOD = PREFIX + "skipped_lastmod"
EXTRACTION_ERRORS = PREFIX + "extraction_errors"
BAD_LINKS = PREFIX + "bad_links"  # links that could not become a request
EMPTY_LISTINGS = PREFIX + "empty_listings"
PLAN_TEASERS = PREFIX + "plan/teasers"
# ... by the spiders (failed downloads) and by the pipeline (items it could not store) ...
ERRORS = PREFIX + "errors"
# ... and by the item pipeline (pipeline.scrapy_pipeline.ArchivePipeline) at the run's end:
RUN_ID = PREFIX + "run_id"
KNOWN_LIVE = PREFIX + "known_live"  # live pages of the spider's kind when the run began
OUTCOME_PREFIX = PREFIX + "outcome/"  # + a ChangeKind or a Counted name: pages per outcome
SOURCE_PREFIX = PREFIX + "source/"  # + "<field>:<source>": pages whose field came from there


class Counted(StrEnum):
    """What the item pipeline counts besides the change kinds (`OUTCOME_PREFIX` + name)."""

    PAGES = "pages"  # content pages parsed
    UNCHANGED = "unchanged"  # 304s whose stored body is the current version
    FLAGGED = "flagged"  # versions the history rules flagged as suspicious
    GONE = "gone"  # known pages that answered 404/410 (mass guard: not marked removed)
    MOVING = "moving"  # known pages that answered 301 (mass guard: not marked moved)
    MASS_DISAPPEARANCE = "mass_disappearance"
    MASS_MOVE = "mass_move"


def outcome_key(name: str) -> str:
    return OUTCOME_PREFIX + name


def source_key(field: str, source: str) -> str:
    return f"{SOURCE_PREFIX}{field}:{source}"


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

        def outcome(name: str) -> int:
            return _int(stats, outcome_key(name))

        return cls(
            finish_reason=str(stats.get("finish_reason") or ""),
            run_id=stats.get(RUN_ID),
            requests=_int(stats, "downloader/request_count"),
            responses=_int(stats, "downloader/response_count"),
            retries=_int(stats, "retry/count"),
            internal_requests=_int(stats, INTERNAL_REQUESTS),
            not_modified=_int(stats, "downloader/response_status_count/304"),
            skipped=_int(stats, SKIPPED_LASTMOD),
            failed=_int(stats, ERRORS) + _int(stats, EXTRACTION_ERRORS),
            bad_links=_int(stats, BAD_LINKS),
            empty_listings=_int(stats, EMPTY_LISTINGS),
            plan_teasers=_int(stats, PLAN_TEASERS),
            known_live=_int(stats, KNOWN_LIVE),
            pages=outcome(Counted.PAGES),
            unchanged=outcome(Counted.UNCHANGED),
            new=outcome(ChangeKind.NEW),
            duplicates=outcome(ChangeKind.DUPLICATE),
            modified=outcome(ChangeKind.MODIFIED),
            removed=outcome(ChangeKind.REMOVED),
            moved=outcome(ChangeKind.MOVED),
            restored=outcome(ChangeKind.RESTORED),
            flagged=outcome(Counted.FLAGGED),
            gone=outcome(Counted.GONE),
            moving=outcome(Counted.MOVING),
            mass_disappearance=bool(outcome(Counted.MASS_DISAPPEARANCE)),
            mass_move=bool(outcome(Counted.MASS_MOVE)),
            sources={
                k[len(SOURCE_PREFIX) :]: int(v)
                for k, v in stats.items()
                if k.startswith(SOURCE_PREFIX)
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
