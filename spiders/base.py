"""Shared navigation: robots Crawl-delay, fetching content pages, phases, revisiting known pages.

A crawl runs in phases driven by `spider_idle`: discovery first (so categories and sitemap
lastmods are known before articles are fetched), then pages found only in sitemaps, then every
known page that nothing linked to this time (that is how 404/410/301 are noticed).

Once robots.txt is read the run is planned (aaltowatch/core/planner.py): a site whose full crawl
fits in the request budget (or policy `all`) is crawled whole as above ("full" mode); a bigger
one in "plan" mode, where each phase spends what the budget leaves, in the planner's order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import scrapy
from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import Response
from twisted.python.failure import Failure

from aaltowatch.core import planner
from aaltowatch.core.config import Config
from aaltowatch.core.crawlstop import stop_unwritable
from aaltowatch.core.enums import PageStatus
from aaltowatch.core.errors import ArchiveWriteError, ExtractionError
from aaltowatch.core.fetchcache import CrawlCache, fetch_cache
from aaltowatch.core.items import Checked, CheckOutcome, Gone, Unchanged
from aaltowatch.core.runstats import (
    BAD_LINKS,
    ERRORS,
    EXTRACTION_ERRORS,
    INTERNAL_REQUESTS,
    SKIPPED_LASTMOD,
    UNREACHABLE_STREAK,
)
from aaltowatch.core.text import parse_utc, utc_now
from aaltowatch.core.urls import (
    OffSiteURL,
    Section,
    canonical_url,
    content_kind,
    to_fetch_url,
)
from pages import parse_article
from pages.article import PageItem
from spiders.boundary import STEP_META, OffBoundary
from spiders.robots import parse_robots
from spiders.statkeys import (
    BUDGET_LIMIT,
    CATEGORIES_CAPPED,
    NOT_MODIFIED,
    PAGES,
    PLAN_MODE,
    RECHECKS,
    REDIRECTED_AWAY,
    REDIRECTS,
    REVISIT_CANDIDATES,
    REVISITS,
    SKIPPED_NOT_HTML,
    TEMPORARY_REDIRECTS,
    status_key,
)

log = logging.getLogger(__name__)

CONTENT_STATUSES = [301, 302, 303, 307, 308, 404, 410]
# Requests made before a run is planned: our robots.txt and Scrapy's own.
ROBOTS_REQUESTS = 2
PERMANENT_REDIRECTS = (301, 308)
HTML_TYPES = ("text/html", "application/xhtml+xml")
BAD_LINKS_LOGGED = 10  # per run; the rest are counted only
T = TypeVar("T")


class AaltoSpider(scrapy.Spider):
    """Base of every section's spider; a subclass names its `section` (aaltowatch.core.urls
    SECTIONS: its name and page kind come from there) and defines `discover()`."""

    section: Section
    kind = ""
    custom_settings: dict[str, Any] = {}
    # Set by from_crawler: the run's configuration, its site root (no trailing slash), the cache.
    config: Config
    base_url: str
    cache: CrawlCache

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "section" in cls.__dict__:
            cls.name, cls.kind = cls.section.spider, cls.section.kind

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requested: set[str] = set()  # canonical URLs of content pages asked for
        self.categories: dict[str, list[str]] = {}
        self.lastmods: dict[str, str] = {}
        self.phases: list[str] = ["deferred", "known"]
        self.plan_phases: list[str] = ["queue", "revisit"]
        self.deferred: list[str] = []
        self.mode = planner.CrawlMode.FULL
        self.budget = planner.Budget(None)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> AaltoSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.config = crawler.settings.get("AALTOWATCH_CONFIG")
        spider.base_url = spider.config.base_url.rstrip("/")
        # Past fetches and the planner's memory: the crawl's one view of the archive.
        spider.cache = fetch_cache(crawler)
        crawler.signals.connect(spider.on_idle, signal=signals.spider_idle)
        return spider

    # -- helpers ------------------------------------------------------------------------------
    def fetch_url(self, url: str) -> str:
        """Where to fetch `url`; an off-site URL stays as it is, for the boundary to refuse
        and count (spiders.boundary.BoundaryMiddleware)."""
        try:
            return to_fetch_url(url, self.base_url)
        except OffSiteURL:
            return url

    def capped_categories(self, categories: list[str]) -> list[str]:
        """At most `max_categories_per_item`: N categories must not cost N feeds per teaser."""
        cap = self.config.max_categories_per_item
        if cap and len(categories) > cap:
            self.count(CATEGORIES_CAPPED)
            return categories[:cap]
        return categories

    def canonical(self, url: str) -> str:
        return canonical_url(url, self.base_url)

    def count(self, key: str, n: int = 1) -> None:
        """Add to a stats key (spiders.statkeys; aaltowatch.core.runstats if the core reads it)."""
        self.crawler.stats.inc_value(key, n)

    def follow_links(
        self, where: str, links: Iterable[Any], follow: Callable[[Any], Iterable[T]]
    ) -> Iterator[T]:
        """What each discovered link leads to, one link at a time. A link that cannot become a
        request (urllib and Scrapy raise ValueError: a broken IPv6 host, a port out of range,
        no scheme) is skipped, counted in `bad_links` (errors of the run) and logged; the
        page's other links still count, whatever their order."""
        for link in links:
            try:
                found = list(follow(link))
            except ValueError as exc:
                self.count(BAD_LINKS)
                seen = self.crawler.stats.get_value(BAD_LINKS)
                log.log(
                    logging.WARNING if seen <= BAD_LINKS_LOGGED else logging.DEBUG,
                    "%s: skipped a %s link that cannot be requested (%s): %.200r%s",
                    self.name, where, exc, getattr(link, "url", link),
                    f"; further ones are counted in {BAD_LINKS}, not logged"
                    if seen == BAD_LINKS_LOGGED else "",
                )  # fmt: skip
                continue
            yield from found

    def well_formed(
        self, where: str, links: Iterable[T], url_of: Callable[[T], str] = str
    ) -> list[T]:
        """The links whose URL parses (the others skipped and counted, as follow_links does):
        for a channel that only notes its links, to be requested later."""

        def check(link: T) -> list[T]:
            self.canonical(url_of(link))
            return [link]

        return list(self.follow_links(where, links, check))

    # -- start ------------------------------------------------------------------------------
    async def start(self) -> Any:
        yield Request(
            self.fetch_url("/robots.txt"),
            callback=self.parse_robots,
            errback=self.on_robots_error,
            priority=100,
            dont_filter=True,
            meta={
                "no_conditional": True,
                "dont_obey_robotstxt": True,
                "handle_httpstatus_all": True,
            },
        )

    def on_robots_error(self, failure: Failure) -> Iterator[Request]:
        """No robots.txt to read is no reason not to crawl: discovery still runs."""
        self.on_error(failure)
        self.plan_run()
        yield from self.discover()

    def parse_robots(self, response: Response) -> Iterator[Request]:
        """Honour Crawl-delay (capped by config): Scrapy's robots support ignores it."""
        if response.status == 200:
            robots = parse_robots(response.body, self.crawler.stats)
            delay = robots.crawl_delay(self.config.user_agent) or robots.crawl_delay("*")
            if delay and self.config.skip_delays:
                log.info("robots.txt Crawl-delay %ss not applied to a local mirror", delay)
            elif delay:
                effective = min(float(delay), self.config.crawl_delay_cap)
                if effective > getattr(self, "download_delay", 0):
                    self.download_delay = effective
                    for slot in self.crawler.engine.downloader.slots.values():
                        slot.delay = max(slot.delay, effective)
                    # AutoThrottle lowers a slot's delay towards its own floor (the delay
                    # known when the spider opened): the Crawl-delay must be that floor too.
                    for extension in self.crawler.extensions.middlewares:
                        if isinstance(extension, AutoThrottle):
                            extension.mindelay = max(extension.mindelay, effective)
                    log.info(
                        "robots.txt Crawl-delay %ss (cap %ss)", delay, self.config.crawl_delay_cap
                    )
                self.robots_delay = effective
        self.plan_run()
        yield from self.discover()

    # -- the plan ---------------------------------------------------------------------------
    def plan_run(self) -> None:
        """Set the request budget and choose full or plan mode (aaltowatch/core/planner.py)."""
        config = self.config
        policy = planner.RevisitPolicy(config.revisit_policy)
        if policy is planner.RevisitPolicy.ALL:
            self.mode, self.budget = planner.CrawlMode.FULL, planner.Budget(None)
        else:
            limit = config.max_requests_per_run or planner.derive_budget(
                planner.cron_interval_s(*self.schedule_of_kind()),
                max(config.download_delay, getattr(self, "robots_delay", 0.0)),
            )
            self.budget = planner.Budget(limit, spent=ROBOTS_REQUESTS)
            small = self.site_is_small(limit)
            self.mode = planner.CrawlMode.FULL if small else planner.CrawlMode.PLAN
        if self.planned:
            self.phases = list(self.plan_phases)
        self.crawler.stats.set_value(BUDGET_LIMIT, self.budget.limit or 0)
        self.crawler.stats.set_value(PLAN_MODE, self.mode.value)
        log.info("%s: %s mode, budget %s requests", self.name, self.mode, self.budget.limit)

    def site_is_small(self, limit: int) -> bool:
        return planner.small_site(
            known_pages=self.cache.pages.count_pages(self.kind),
            listing_pages=0,
            queued=sum(self.cache.plan.queue_sizes(self.kind).values()),
            budget=limit,
        )

    @property
    def planned(self) -> bool:
        return self.mode is planner.CrawlMode.PLAN

    def now(self) -> str:
        return utc_now()

    def fetch_page(self, url: str, *, priority: int = 0) -> Iterator[Request]:
        """A content page if the budget allows it this run; else it waits in the crawl queue."""
        key = self.canonical(url)
        if key in self.requested:
            return
        if self.budget.take():
            yield self.page_request(key, priority=priority)
            return
        kind = content_kind(key)
        row = {
            "url": key,
            "kind": self.kind,
            "lang": kind[1] if kind else None,
            "tier": planner.TEASER,
            "categories": self.categories.get(key),
        }
        self.cache.plan.enqueue([row], self.now())

    def fetch_queued(
        self, tiers: tuple[int, ...], priority: int = 0, langs: tuple[str, ...] | None = None
    ) -> Iterator[Request]:
        """The crawl queue, best tier and newest first, as far as the budget goes."""
        for row in self.cache.plan.queued(self.kind, tiers, self.budget.remaining + 100, langs):
            if row["url"] in self.requested:
                continue
            if not self.budget.take():
                return
            if row["categories"] and row["url"] not in self.categories:
                self.categories[row["url"]] = list(row["categories"])
            if row["lastmod"] and row["url"] not in self.lastmods:
                self.lastmods[row["url"]] = row["lastmod"]
            yield self.page_request(row["url"], priority=priority)

    def revisit(self) -> Iterator[Request]:
        """Known pages the revisit policy picks, within what the budget leaves."""
        policy = planner.RevisitPolicy(self.config.revisit_policy)
        budget = self.budget.remaining
        if policy is planner.RevisitPolicy.ROUND_ROBIN and self.backfilling():
            budget //= 2  # the backfill still needs its share
        now = datetime.now(UTC)
        pages = [
            planner.PageView.from_row(row)
            for row in self.cache.plan.revisit_candidates(self.kind)
            if row["url"] not in self.requested
        ]
        chosen = planner.select_revisits(
            pages,
            now=now,
            budget=budget,
            policy=policy,
            max_days=self.config.revisit_max_days,
            min_value=self.config.revisit_min_value,
            recent_max_days=self.config.revisit_recent_max_hours / 24.0,
            runs_per_day=86400.0 / planner.cron_interval_s(*self.schedule_of_kind()),
            run_limit=self.budget.limit,
            fill_share=self.config.revisit_fill_share,
        )
        self.count(REVISIT_CANDIDATES, len(pages))
        for url in chosen:
            if not self.budget.take():
                return
            self.count(REVISITS)
            yield self.page_request(url, priority=-10)

    def backfilling(self) -> bool:
        """Is the archive still being filled? (News: a listing has not been read to its end.)"""
        return False

    def schedule_of_kind(self) -> tuple[str, float]:
        """This spider's cron expression and fixed interval (how often its runs come)."""
        return self.config.schedule.entry(self.name)

    def discover(self) -> Iterator[Request]:
        raise NotImplementedError

    # -- content pages ------------------------------------------------------------------------
    def page_request(
        self,
        url: str,
        *,
        priority: int = 0,
        moved_from: str | None = None,
        hops: int = 0,
        fetch: str | None = None,
    ) -> Request:
        """A content page by its identity; `fetch` overrides where it is fetched from (a
        redirect to the same identity, e.g. a trailing slash or another host spelling)."""
        key = self.canonical(url)
        request = Request(
            fetch or self.fetch_url(key),
            callback=self.parse_page,
            errback=self.on_page_error,
            priority=priority,
            dont_filter=moved_from is not None,
            meta={
                "dont_redirect": True,
                "handle_httpstatus_list": CONTENT_STATUSES,
                "redirect_hops": hops,
                "defer_fetch_record": True,
            },
            cb_kwargs={"moved_from": moved_from},
        )
        self.requested.add(key)
        if hops:  # a redirect to follow: from the reserve, never a planned page's place
            self.budget.take(reserve=True)
        return request

    def recheck(self, url: str) -> None:
        """Ask a stored page again in this run, out of the plan: the pipeline stored a new page
        with its content, and a 301 from here to there makes the two one `moved` (a move found
        from its new URL first). Paid from the reserve, like a redirect; once a run."""
        key = self.canonical(url)
        if key in self.requested or not self.budget.take(reserve=True):
            return
        self.count(RECHECKS)
        self.crawler.engine.crawl(self.page_request(key, priority=10))

    def want(self, url: str, *, lastmod: str | None = None) -> Iterator[Any]:
        """Ask for a content page once, unless its sitemap lastmod says it did not move."""
        key = self.canonical(url)
        if key in self.requested or (found := content_kind(key)) is None or found[0] != self.kind:
            return
        if self.planned:  # stored pages wait for the revisit policy; new ones are fetched
            page = self.cache.pages.page(key)
            if page is None or page["status"] == PageStatus.REMOVED:
                yield from self.fetch_page(key)
            return
        lastmod = lastmod or self.lastmods.get(key)
        if lastmod and self._lastmod_unmoved(key, lastmod):
            self.requested.add(key)
            self.count(SKIPPED_LASTMOD)
            yield Unchanged(key, "lastmod", self.categories.get(key), lastmod)
            return
        yield self.page_request(key)

    def _lastmod_unmoved(self, key: str, lastmod: str) -> bool:
        max_age_h = self.config.lastmod_skip_max_age_h
        if max_age_h <= 0:
            return False
        page = self.cache.pages.page(key)
        info = self.cache.fetches.fetch_info(key)
        if not page or page["status"] != PageStatus.LIVE or not info or not info.get("fetched_at"):
            return False
        if info.get("sitemap_lastmod") != lastmod:
            return False
        fetched = parse_utc(info["fetched_at"])
        return fetched is not None and datetime.now(UTC) - fetched < timedelta(hours=max_age_h)

    def parse_page(self, response: Response, moved_from: str | None = None) -> Iterator[Any]:
        status = response.status
        key = self.canonical(response.url)
        if status in (301, 302, 303, 307, 308):
            target = (response.headers.get("Location") or b"").decode("latin-1")
            yield from self.follow_links(
                "redirect", [target], lambda t: self._redirect(response, key, t, moved_from)
            )
            return
        if status in (404, 410):
            self.count(status_key(status))
            yield Gone(key, status)
            return
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1").lower()
        if content_type and not content_type.startswith(HTML_TYPES):
            log.info("skipping %s: not HTML (%s)", key, content_type)
            self.count(SKIPPED_NOT_HTML)
            return
        if response.meta.get("not_modified"):
            self.count(NOT_MODIFIED)
            if moved_from is None:  # the pipeline decides whether the stored body is current
                yield Unchanged(
                    key,
                    "304",
                    self.categories.get(key),
                    self.lastmods.get(key),
                    fetch=response.meta.get("fetch_record"),
                    parse=lambda: self.page_items(response, key, status, content_type, None),
                )
                return
        yield from self.page_items(response, key, status, content_type, moved_from)

    def _redirect(
        self, response: Response, key: str, target: str, moved_from: str | None
    ) -> Iterator[Any]:
        """A content page answered with a redirect to `target` (its Location)."""
        status = response.status
        target_key = self.canonical(response.urljoin(target))
        # Redirects are followed here (dont_filter), so only this cap ends a redirect loop.
        hops = response.meta.get("redirect_hops", 0) + 1
        if hops > self.settings.getint("REDIRECT_MAX_TIMES"):
            log.warning("%s: more than %d redirects (a loop?); given up", key, hops - 1)
            self.count(ERRORS)
            yield Checked(key, http_status=status)
            return
        if target_key == key:  # same identity spelled differently: fetch it there
            yield self.page_request(
                key, moved_from=moved_from, hops=hops, fetch=response.urljoin(target)
            )
        elif status not in PERMANENT_REDIRECTS:
            # A temporary redirect (maintenance notice, login) is not a move: keep the page.
            log.warning("%s redirects temporarily (%d) to %r; kept as is", key, status, target)
            self.count(TEMPORARY_REDIRECTS)
            yield Checked(key, http_status=status)
        elif (found := content_kind(target_key)) and found[0] == self.kind:
            self.count(REDIRECTS)
            if self.cache.pages.page(key) is None:
                # Never stored (a queued URL): settled here; a stored page's move is
                # recorded with its history.
                yield Checked(key, CheckOutcome.MOVED, status)
            yield self.page_request(target_key, moved_from=moved_from or key, hops=hops)
        else:
            log.warning("%s redirects off the watched pages to %r; ignored", key, target_key)
            self.count(REDIRECTED_AWAY)

    def page_items(
        self,
        response: Response,
        key: str,
        status: int,
        content_type: str,
        moved_from: str | None,
    ) -> Iterator[Any]:
        """The page object of an HTML response, as an item (or a check, when unreadable)."""
        try:
            item: PageItem = parse_article(
                response.body,
                response.url,
                content_type=content_type or None,
                base_url=self.base_url,
            )
        except ExtractionError as exc:
            log.warning("extraction failed for %s: %s", key, exc)
            self.count(EXTRACTION_ERRORS)
            yield Checked(key, http_status=status)
            return
        item.categories = self.capped_categories(self.categories.get(item.url, item.categories))
        item.moved_from = moved_from
        item.fetched_url = response.url
        item.fetch = response.meta.get("fetch_record")
        item.sitemap_lastmod = self.lastmods.get(item.url)
        self.count(PAGES)
        yield item

    def on_error(self, failure: Failure) -> None:
        """5xx after retries, timeouts, resets: counted, logged, never a removal.

        A request refused by the trust boundary is not a site error: the boundary counts it.
        """
        if failure.check(OffBoundary):
            return
        if failure.check(ArchiveWriteError):  # recording the fetch failed: stop, say it once
            stop_unwritable(self.crawler, failure.value)
            return
        request = failure.request if hasattr(failure, "request") else None
        url = request.url if request is not None else "?"
        if failure.check(IgnoreRequest) and request is not None and request.meta.get("over_budget"):
            return  # not made: the run's request budget was spent (counted by the middleware)
        self.count(ERRORS)
        if not self.crawler.stats.get_value(UNREACHABLE_STREAK):  # else the alert says it once
            log.warning("request failed: %s: %s", url, failure.getErrorMessage())

    def on_page_error(self, failure: Failure) -> Iterator[Checked]:
        """A content page that could not be checked: an `error` check, nothing else."""
        self.on_error(failure)
        request = getattr(failure, "request", None)
        if request is not None and not request.meta.get("over_budget"):
            status = getattr(getattr(failure.value, "response", None), "status", None)
            yield Checked(self.canonical(request.url), http_status=status)

    # -- phases -----------------------------------------------------------------------------
    def on_idle(self, spider: scrapy.Spider) -> None:
        """Start the next phase through a step request, so its callback may yield items too.

        The step is answered by the boundary middleware and never downloaded (there is no
        data: handler to download it with).
        """
        if self.phases:
            phase = self.phases.pop(0)
            self.count(INTERNAL_REQUESTS)  # not a download: kept out of the error rate
            self.crawler.engine.crawl(
                Request(
                    "data:,",
                    callback=self.run_phase,
                    cb_kwargs={"phase": phase},
                    dont_filter=True,
                    meta={STEP_META: True},
                )
            )
            raise DontCloseSpider

    def run_phase(self, response: Response, phase: str) -> Iterator[Any]:
        if phase == "queue":
            yield from self.fetch_queued((planner.TEASER, planner.LASTMOD))
        elif phase == "revisit":
            yield from self.revisit()
        elif phase == "deferred":
            yield from self.follow_links("sitemap", self.deferred, self.want)
        elif phase == "known" and self.config.revisit_known:
            for url in self.cache.pages.known_urls(self.kind):
                if url not in self.requested:
                    self.count(REVISITS)
                    yield self.page_request(url, priority=-10)
