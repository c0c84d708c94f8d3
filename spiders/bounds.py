"""Run-wide bounds as a Scrapy extension: total bytes per run and a run deadline.

Per-response bounds live where the bytes arrive (DOWNLOAD_MAXSIZE, the header bound of
spiders/handlers.py); per-discovery bounds (listing pages, sitemap depth and size) live in the
spiders. All of them report through `reach_bound`, so each reached bound is one stat, one log
line and one `bound_reached` alert, whoever owns it.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.utils.defer import _schedule_coro

from aaltowatch.core.bounds import STAT_PREFIX, STOP_REASON

log = logging.getLogger(__name__)

BYTES_RECEIVED = "bounds/bytes_received"  # stats key: body bytes so far (max_bytes_per_run)


def reach_bound(crawler: Crawler, name: str, limit: Any, *, stop: bool, what: str = "") -> None:
    """Record that the config bound `name` (= `limit`) was reached; `stop` ends the run cleanly.

    Without `stop` the caller skips the rest of what the bound covers (more pager links, a
    deeper sitemap) and the crawl goes on. Logged once per bound and run.
    """
    key = STAT_PREFIX + name
    first = crawler.stats.get_value(key) is None
    if first:
        crawler.stats.set_value(key, limit)
        action = "stopping the run cleanly" if stop else what or "skipping the rest"
        log.warning("bound reached: %s = %s; %s", name, limit, action)
    engine = crawler.engine
    if stop and engine is not None and engine.spider is not None:
        slot = getattr(engine, "_slot", None)
        if slot is None or slot.closing is None:
            _schedule_coro(engine.close_spider_async(reason=STOP_REASON))


class RunBounds:
    """Stops the run at `max_bytes_per_run` downloaded body bytes or after `run_deadline_s`."""

    def __init__(self, crawler: Crawler, max_bytes: int, deadline_s: float) -> None:
        self.crawler = crawler
        self.max_bytes = max_bytes
        self.deadline_s = deadline_s
        self.bytes = 0
        self.timer: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunBounds:
        config = crawler.settings.get("AALTOWATCH_CONFIG")
        ext = cls(crawler, config.max_bytes_per_run, config.run_deadline_s)
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.on_bytes, signal=signals.bytes_received)
        return ext

    def opened(self, spider: Any) -> None:
        from twisted.internet import reactor
        from twisted.internet.base import ReactorBase

        if self.deadline_s > 0:
            # Twisted types the global reactor by its zope interfaces, which mypy reads without
            # `self`; every Twisted reactor is a ReactorBase.
            self.timer = cast(ReactorBase, reactor).callLater(self.deadline_s, self.on_deadline)

    def on_deadline(self) -> None:
        reach_bound(self.crawler, "run_deadline_s", self.deadline_s, stop=True)

    def on_bytes(self, data: bytes, request: Request, spider: Any) -> None:
        self.bytes += len(data)
        self.crawler.stats.set_value(BYTES_RECEIVED, self.bytes)
        if self.max_bytes and self.bytes > self.max_bytes:
            reach_bound(self.crawler, "max_bytes_per_run", self.max_bytes, stop=True)

    def closed(self, spider: Any) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
