"""Downloader middlewares: conditional GET from stored validators, Retry-After on 429, the
run's request budget, and the stop when the site no longer answers."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import Response
from scrapy.utils.defer import _schedule_coro
from twisted.internet.error import ConnectError, DNSLookupError
from twisted.internet.error import TimeoutError as TwistedTimeoutError

from aaltowatch.core.fetchcache import FetchCache, fetch_cache
from aaltowatch.core.runstats import UNREACHABLE, UNREACHABLE_ERROR, UNREACHABLE_STREAK
from aaltowatch.core.text import utc_now
from aaltowatch.core.urls import canonical_url
from spiders.statkeys import BUDGET_DROPPED, BUDGET_REQUESTS

log = logging.getLogger(__name__)

RAW_TYPES = ("text/", "application/xml", "application/rss", "application/atom", "application/xhtml")


class ConditionalGetMiddleware:
    """Sends If-None-Match / If-Modified-Since and turns a 304 back into the stored body.

    Listings and sitemaps must still be parsed on a 304 (they carry the links and categories),
    so the stored bytes stand in; `meta["not_modified"]` tells callbacks it was a 304.
    Past fetches come from the fetch cache (aaltowatch.core.fetchcache), never from storage itself.
    """

    def __init__(self, fetches: FetchCache, base_url: str) -> None:
        self.fetches = fetches
        self.base_url = base_url

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalGetMiddleware:
        config = crawler.settings.get("AALTOWATCH_CONFIG")
        return cls(fetch_cache(crawler).fetches, config.base_url if config else "")

    def _key(self, request: Request) -> str:
        return canonical_url(request.url, self.base_url)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if (
            request.method != "GET"
            or not request.url.startswith("http")
            or request.meta.get("no_conditional")
            or request.url.endswith("/robots.txt")
        ):
            return None
        info = self.fetches.fetch_info(self._key(request))
        if info and info.get("raw_sha256"):
            if info.get("etag"):
                request.headers.setdefault("If-None-Match", info["etag"])
            if info.get("last_modified"):
                request.headers.setdefault("If-Modified-Since", info["last_modified"])
        return None

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        if request.method != "GET" or not request.url.startswith("http"):
            return response
        key = self._key(request)
        if response.status == 304:
            cached = self.fetches.cached_response(key)
            if cached is None:
                # Validators without a body (a lost write): fetch it whole once more.
                log.info("304 without a stored body for %s; refetching", key)
                retry = request.replace(dont_filter=True)
                retry.meta["no_conditional"] = True
                return retry  # type: ignore[return-value]
            body, content_type = cached
            headers = dict(response.headers)
            if content_type:
                headers[b"Content-Type"] = content_type.encode()
            request.meta["not_modified"] = True
            self._record(request, key, response, status=304)
            return response.replace(status=200, body=body, headers=headers, flags=["cached"])
        if response.status == 200:
            content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
            if content_type.startswith(RAW_TYPES) or not content_type:
                self._record(request, key, response, status=200, content_type=content_type)
        return response

    def _record(
        self,
        request: Request,
        key: str,
        response: Response,
        *,
        status: int,
        content_type: str | None = None,
    ) -> None:
        """Keep the validators (and a 200's bytes); for a content page the item pipeline
        stores them in the page's own transaction (meta "defer_fetch_record"), so validators
        never outlive a page version that was not written."""
        header = response.headers.get
        record: dict[str, Any] = {
            "status": status,
            "fetched_at": utc_now(),
            "etag": (header("ETag") or b"").decode("latin-1") or None,
            "last_modified": (header("Last-Modified") or b"").decode("latin-1") or None,
        }
        if status == 200:
            record.update(
                body=response.body,
                sha256=hashlib.sha256(response.body).hexdigest(),
                content_type=content_type or None,
            )
        if request.meta.get("defer_fetch_record"):
            request.meta["fetch_record"] = {"url": key, **record}
        else:
            self.fetches.record_fetch(key, **record)


class RetryAfterMiddleware:
    """Honours a 429's Retry-After (capped) before Scrapy's retry sends the request again."""

    def __init__(self, cap: float) -> None:
        self.cap = cap

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        config = crawler.settings.get("AALTOWATCH_CONFIG")
        return cls(config.crawl_delay_cap if config else 10.0)

    async def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        if response.status in (429, 503) and self.cap > 0:
            value = (response.headers.get("Retry-After") or b"").decode("latin-1").strip()
            if value.isdigit():
                delay = min(float(value), self.cap)
                log.info(
                    "%s answered %s; waiting %.1fs (Retry-After)",
                    request.url,
                    response.status,
                    delay,
                )
                await asyncio.sleep(delay)
        return response


class TimeoutRetryMiddleware:
    """A download that timed out is retried once at most, whatever `retry_times` says.

    DOWNLOAD_TIMEOUT bounds one attempt, slow drip included; without this a URL that drips
    would cost download_timeout x (retry_times + 1). Errors that answer fast (5xx, resets)
    keep every retry.
    """

    def process_exception(
        self, request: Request, exception: BaseException, spider: Spider | None = None
    ) -> None:
        if isinstance(exception, DownloadTimeoutError) and request.meta.get("retry_times", 0):
            request.meta["dont_retry"] = True


class RequestBudgetMiddleware:
    """The hard stop behind the planner: no run makes more requests than its budget.

    The spider plans within its budget (aaltowatch/core/planner.py) and keeps a reserve for what a
    plan cannot foresee; this counts every request that reaches the network (retries and
    Scrapy's own robots.txt included) and drops any beyond the limit. A dropped page is simply
    not checked this run: never an error, never a removal.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.made = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RequestBudgetMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if not request.url.startswith("http"):
            return None  # the spider's own data: phase markers are not requests to the site
        budget = getattr(self.crawler.spider, "budget", None)
        limit = getattr(budget, "limit", None)
        if limit is not None and self.made >= limit:
            request.meta["over_budget"] = True
            self.crawler.stats.inc_value(BUDGET_DROPPED)
            raise IgnoreRequest(f"request budget of {limit} spent")
        self.made += 1
        self.crawler.stats.set_value(BUDGET_REQUESTS, self.made)
        return None


# Failures to reach the site at all: no name, no connection, no answer in time (Scrapy's and
# Twisted's; ConnectError covers refused and TCP timeouts). An HTTP 5xx is an answer.
CONNECTION_FAILURES = (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    ConnectError,
    DNSLookupError,
    TwistedTimeoutError,
)


class UnreachableSiteMiddleware:
    """Stops the run after `max_connection_failures` requests in a row failed to connect.

    Offline, or with the site down, every page would otherwise fail with its retries and a
    warning each, for minutes. Any answer from the site (whatever its status) ends a streak.
    Attempts are counted, retries included, so a streak is reached in seconds; once the run
    stops, nothing more is retried. The stop is recorded in the stats (UNREACHABLE_STREAK)
    and becomes the run's one `site_unreachable` alert (aaltowatch.core.health).
    """

    def __init__(self, crawler: Crawler, limit: int) -> None:
        self.crawler = crawler
        self.limit = limit
        self.streak = 0
        self.stopped = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> UnreachableSiteMiddleware:
        config = crawler.settings.get("AALTOWATCH_CONFIG")
        return cls(crawler, config.max_connection_failures if config else 5)

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        if request.url.startswith("http"):  # the spider's own steps are no answer of the site
            self.streak = 0
        return response

    def process_exception(
        self, request: Request, exception: BaseException, spider: Spider | None = None
    ) -> None:
        if not isinstance(exception, CONNECTION_FAILURES):
            return None
        if self.stopped:
            request.meta["dont_retry"] = True  # in flight when the run stopped: not again
            return None
        self.streak += 1
        if self.limit and self.streak >= self.limit:
            self.stop(request, exception)
        return None

    def stop(self, request: Request, exception: BaseException) -> None:
        self.stopped = True
        request.meta["dont_retry"] = True
        stats = self.crawler.stats
        stats.set_value(UNREACHABLE_STREAK, self.streak)
        stats.set_value(UNREACHABLE_ERROR, type(exception).__name__)
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            _schedule_coro(engine.close_spider_async(reason=UNREACHABLE))
