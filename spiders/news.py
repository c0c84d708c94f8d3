"""News: listings of all three languages, the site RSS and the sitemaps.

Full mode reads every listing to the end of its pager. Plan mode (a site bigger than the
budget) reads each listing from the top until its known frontier, a slice of a pager sweep,
and while the archive is still being filled, further down from where the last run stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from scrapy import Request
from scrapy.http import Response
from twisted.python.failure import Failure

from aaltowatch.core import planner
from aaltowatch.core.errors import ExtractionError
from aaltowatch.core.items import ListingPage, Teaser
from aaltowatch.core.runstats import EMPTY_LISTINGS, EXTRACTION_ERRORS, PLAN_TEASERS
from aaltowatch.core.urls import FEED_PATH, LISTING_PATHS, NEWS, content_kind
from pages import parse_feed, parse_listing
from pages.sitemap import iter_sitemap
from spiders.base import AaltoSpider
from spiders.bounds import reach_bound
from spiders.statkeys import LISTING_PAGES, SITEMAP_QUEUED, TEASERS_NEW_OR_CHANGED

# How a plan-mode listing page was asked for: from the top down to the frontier, a slice of
# the pager sweep, or the backfill further down.
SCAN, SWEEP, BACKFILL = "scan", "sweep", "backfill"
# Teasers per listing page on the site (the budget a backfill page needs, with the page).
TEASERS_PER_PAGE = 12


def listing_path(lang: str, page: int) -> str:
    return LISTING_PATHS[lang] + (f"?page={page}" if page else "")


def page_index(url: str) -> int:
    """The pager's page number of a listing URL (ValueError for a URL that does not parse)."""
    value = dict(parse_qsl(urlsplit(url).query)).get("page", "0")
    return int(value) if value.isdigit() else 0


log = logging.getLogger(__name__)
T = TypeVar("T")


class NewsSpider(AaltoSpider):
    section = NEWS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Sitemaps first (their lastmods let later phases skip unmoved pages), then listings.
        self.phases = ["listings", "deferred", "known"]
        self.plan_phases = ["discovery", "queue", "revisit", "backfill", "leftovers"]
        self.listings_seen: set[str] = set()
        self.cursors: dict[str, planner.ListingCursor] = {}
        self.sweep_left: dict[str, int] = {}
        self.stored_lastmods: dict[str, tuple[str, str | None]] | None = None
        self.settled: set[str] = set()

    def site_is_small(self, limit: int) -> bool:
        """Small once a full pass over every listing measured it, and it fits the budget."""
        cursors = [self._cursor(lang) for lang in LISTING_PATHS]
        measured = all(c.pages for c in cursors)
        return planner.small_site(
            known_pages=self.cache.pages.count_pages(self.kind),
            listing_pages=sum(c.pages or 0 for c in cursors) if measured else None,
            queued=sum(self.cache.plan.queue_sizes(self.kind).values()),
            budget=limit,
        )

    def backfilling(self) -> bool:
        return any(self._cursor(lang).backfilling for lang in LISTING_PATHS)

    def discover(self) -> Iterator[Request]:
        self.budget.take()
        yield self._aux(self.fetch_url("/sitemap.xml"), self.parse_sitemap, priority=50)

    def _aux(
        self, url: str, callback: Any, priority: int = 10, cb_kwargs: dict | None = None
    ) -> Request:
        return Request(
            url, callback=callback, errback=self.on_error, priority=priority, cb_kwargs=cb_kwargs
        )

    def run_phase(self, response: Response, phase: str) -> Iterator[Any]:
        if phase == "listings":
            yield self._aux(self.fetch_url(FEED_PATH), self.parse_feed)
            for path in LISTING_PATHS.values():
                yield from self._listing(self.fetch_url(path))
            return
        if phase == "discovery":
            if self.budget.take():
                yield self._aux(self.fetch_url(FEED_PATH), self.parse_feed, priority=40)
            for lang in LISTING_PATHS:
                yield from self._plan_listing(lang, 0, SCAN)
            return
        if phase == "backfill":
            for lang in LISTING_PATHS:
                cursor = self._cursor(lang)
                if cursor.backfilling:
                    yield from self._plan_listing(lang, cursor.next, BACKFILL)
            return
        if phase == "leftovers":
            # Pages only a sitemap named, once their language's listings were read through
            # (before that, a listing teaser may still bring the page with its categories).
            done = tuple(lang for lang in LISTING_PATHS if not self._cursor(lang).backfilling)
            yield from self.fetch_queued((planner.SITEMAP_ONLY,), priority=-20, langs=done)
            return
        yield from super().run_phase(response, phase)

    # -- plan mode: listings --------------------------------------------------------------
    def _cursor(self, lang: str) -> planner.ListingCursor:
        if lang not in self.cursors:
            self.cursors[lang] = planner.ListingCursor.load(
                self.cache.plan.plan_state(planner.ListingCursor.key(lang))
            )
        return self.cursors[lang]

    def _plan_listing(self, lang: str, page: int, how: str) -> Iterator[Request]:
        """Listing page `page` of `lang`, once per run, if the budget allows (a backfill page
        also needs room for the stories it will name)."""
        url = listing_path(lang, page)
        if url in self.listings_seen:
            return
        limit = self.config.max_listing_pages
        if limit and len(self.listings_seen) >= limit:
            reach_bound(
                self.crawler, "max_listing_pages", limit, stop=False,
                what="no more listing pages read",
            )  # fmt: skip
            return
        # Beyond the top, a page read past the frontier names stories to fetch: leave room.
        need = 1 + (TEASERS_PER_PAGE if how == BACKFILL or (how == SCAN and page) else 0)
        if self.budget.remaining < need or not self.budget.take():
            return
        self.listings_seen.add(url)
        yield Request(
            self.fetch_url(url),
            callback=self.parse_plan_listing,
            errback=self.on_listing_error,
            priority=30 - page if how == SCAN else -30 - page,
            cb_kwargs={"lang": lang, "page": page, "how": how},
        )

    def _read(self, what: str, parse: Callable[..., T], response: Response) -> T | None:
        """A listing or feed read by its page object; an unreadable one is logged and counted."""
        try:
            return parse(response.body, response.url, base_url=self.base_url)
        except ExtractionError as exc:
            log.warning("%s %s unreadable: %s", what, response.url, exc)
            self.count(EXTRACTION_ERRORS)
            return None

    def _read_listing(self, response: Response) -> ListingPage | None:
        """A listing page, counted (and counted as empty when it names no stories)."""
        listing = self._read("listing", parse_listing, response)
        if listing is not None:
            self.count(LISTING_PAGES)
            if not listing.teasers:
                self.count(EMPTY_LISTINGS)
        return listing

    def parse_plan_listing(
        self, response: Response, lang: str, page: int, how: str
    ) -> Iterator[Any]:
        listing = self._read_listing(response)
        if listing is None:
            return
        if not listing.teasers:
            # A layout the page objects no longer read (an alert), or a sweep past a pager
            # that shrank. Only the sweep wraps: a drifted layout must not end the backfill.
            if how == SWEEP and page > 0:
                self._wrap(lang, page)
            return
        at_frontier = yield from self._plan_teasers(listing.teasers, priority=20 - page)
        pages = list(self.follow_links("pager", listing.next_urls, lambda u: [page_index(u)]))
        has_next = any(number > page for number in pages)
        cursor = self._cursor(lang)
        backfilling = cursor.backfilling
        # Every read is contiguous from the top (scan) or from the cursor (sweep, backfill).
        cursor.read(page, has_next)
        self.cache.plan.set_plan_state(planner.ListingCursor.key(lang), cursor.dump(), self.now())
        if not has_next:
            return
        if how == SCAN and not at_frontier:
            yield from self._plan_listing(lang, page + 1, SCAN)
        elif how == SCAN and not backfilling:
            self.sweep_left[lang] = planner.sweep_quota(
                cursor.pages, self.config.revisit_max_days, self._runs_per_day()
            )
            yield from self._sweep(lang)
        elif how == SWEEP:
            yield from self._sweep(lang)
        elif how == BACKFILL:
            yield from self._plan_listing(lang, page + 1, BACKFILL)

    def _sweep(self, lang: str) -> Iterator[Request]:
        """The next page of the pager sweep, while this run's slice lasts."""
        cursor = self._cursor(lang)
        while self.sweep_left.get(lang, 0) > 0:
            self.sweep_left[lang] -= 1
            if listing_path(lang, cursor.next) in self.listings_seen:
                cursor.read(cursor.next, True)  # read this run already: move past it
                continue
            yield from self._plan_listing(lang, cursor.next, SWEEP)
            return

    def on_listing_error(self, failure: Failure) -> None:
        """A sweep or backfill page past a pager that shrank (404): the pass is complete."""
        self.on_error(failure)
        request = getattr(failure, "request", None)
        response = getattr(failure.value, "response", None)
        if request is None or response is None or response.status not in (404, 410):
            return
        lang, page = request.cb_kwargs["lang"], request.cb_kwargs["page"]
        if page > 0:
            self._wrap(lang, page)

    def _wrap(self, lang: str, page: int) -> None:
        """Listing `page` is past the end: the pass ended on the page before."""
        cursor = self._cursor(lang)
        cursor.read(page - 1, False)
        self.cache.plan.set_plan_state(planner.ListingCursor.key(lang), cursor.dump(), self.now())

    def _runs_per_day(self) -> float:
        return 86400.0 / planner.cron_interval_s(*self.schedule_of_kind())

    def _plan_teasers(self, teasers: list[Teaser], priority: int, remember: bool = True) -> Any:
        """Queue the new and changed stories (the plan survives a kill), fetch what the budget
        allows newest first, remember every listing teaser; returns whether the page is at
        the frontier (a generator's return value). The site feed's items say less than a
        listing's teasers: they only tell new stories (`remember` False)."""
        teasers = self.well_formed("teaser", teasers, lambda teaser: teaser.url)
        self._remember_categories(teasers, cap=False)
        langs = {  # the teasers of this spider's own kind of page
            t.url: found[1]
            for t in teasers
            if (found := content_kind(t.url)) and found[0] == self.kind
        }
        hashes = {
            t.url: planner.teaser_hash(t.title, t.published, t.categories)
            for t in teasers
            if t.url in langs
        }
        memory = self.cache.plan.teaser_memory(list(hashes))
        if not remember:
            memory = {url: {**seen, "teaser_hash": None} for url, seen in memory.items()}
        verdict = planner.judge_teasers(list(hashes.items()), memory)
        by_url = {t.url: t for t in teasers}
        now = self.now()
        self.cache.plan.enqueue(
            [
                {
                    "url": url,
                    "kind": self.kind,
                    "lang": langs[url],
                    "tier": planner.TEASER,
                    "sort_key": by_url[url].published or "",
                    "categories": self.categories.get(url),
                }
                for url in verdict.fetch
            ],
            now,
        )
        if remember:
            self.cache.plan.set_teaser_hashes(hashes)
        self.count(PLAN_TEASERS, len(hashes))
        self.count(TEASERS_NEW_OR_CHANGED, len(verdict.fetch))
        for url in sorted(verdict.fetch, key=lambda u: by_url[u].published or "", reverse=True):
            if url in self.requested:
                continue
            if not self.budget.take():
                break
            yield self.page_request(url, priority=priority)
        return verdict.at_frontier

    def parse_sitemap(self, response: Response, depth: int = 0) -> Iterator[Any]:
        """Read as a stream, at most `max_sitemap_urls` entries and `max_sitemap_depth` index
        levels deep: a huge sitemap or an endless index chain cannot starve the articles."""
        max_urls = self.config.max_sitemap_urls
        read = 0
        planned: list[Any] = []  # plan mode: entries queued at once (bounded by max_urls)
        entries = iter_sitemap(response.body, response.url, base_url=self.base_url)
        try:
            for is_index, entry in entries:
                if max_urls and read >= max_urls:
                    reach_bound(
                        self.crawler, "max_sitemap_urls", max_urls, stop=False,
                        what=f"the rest of {response.url} skipped",
                    )  # fmt: skip
                    break
                read += 1
                if is_index:
                    yield from self.follow_links(
                        "sitemap index", [entry.loc], partial(self._sitemap_child, depth=depth + 1)
                    )
                    continue
                if not self.well_formed("sitemap", [entry.loc]):
                    continue
                if self.planned:
                    planned.append(entry)
                    continue
                kind = content_kind(entry.loc)
                if kind and kind[0] == self.kind:
                    if entry.lastmod:
                        self.lastmods[entry.loc] = entry.lastmod
                    self.deferred.append(entry.loc)
        except ExtractionError as exc:
            log.warning("sitemap %s unreadable: %s", response.url, exc)
            self.count(EXTRACTION_ERRORS)
        if planned:
            self._plan_sitemap_entries(planned)

    def _sitemap_child(self, loc: str, depth: int) -> Iterator[Request]:
        if depth > self.config.max_sitemap_depth:
            reach_bound(
                self.crawler, "max_sitemap_depth", self.config.max_sitemap_depth, stop=False,
                what="deeper sitemaps skipped",
            )  # fmt: skip
            return
        request = self._aux(
            self.fetch_url(loc), self.parse_sitemap, priority=50, cb_kwargs={"depth": depth}
        )
        if self.budget.take():
            yield request

    def _plan_sitemap_entries(self, entries: list[Any]) -> None:
        """Queue pages never stored (backfill) and stored ones whose lastmod moved."""
        if self.stored_lastmods is None:
            self.stored_lastmods = self.cache.plan.stored_lastmods(self.kind)
            self.settled = self.cache.plan.settled_unknown_urls()
        rows, first_lastmods = [], {}
        for entry in entries:
            kind = content_kind(entry.loc)
            if not kind or kind[0] != self.kind:
                continue
            if entry.lastmod:
                self.lastmods[entry.loc] = entry.lastmod
            stored = self.stored_lastmods.get(entry.loc)
            if stored is None and entry.loc in self.settled:
                continue
            if stored is None:
                tier = planner.SITEMAP_ONLY
            elif stored[1] is None and entry.lastmod:
                first_lastmods[entry.loc] = entry.lastmod  # stored before lastmods were kept
                continue
            elif entry.lastmod and entry.lastmod != stored[1]:
                tier = planner.LASTMOD
            else:
                continue
            rows.append(
                {
                    "url": entry.loc,
                    "kind": self.kind,
                    "lang": kind[1],
                    "tier": tier,
                    "sort_key": entry.lastmod or "",
                    "lastmod": entry.lastmod,
                }
            )
        self.cache.plan.enqueue(rows, self.now())
        if first_lastmods:
            self.cache.fetches.set_sitemap_lastmods(first_lastmods)
        self.count(SITEMAP_QUEUED, len(rows))

    def _remember_categories(self, teasers: list[Teaser], *, cap: bool) -> None:
        """Each story's categories as its teasers name them (listings of several categories)."""
        for teaser in teasers:
            if teaser.categories:
                known = self.categories.setdefault(teaser.url, [])
                known.extend(c for c in teaser.categories if c not in known)
                if cap:
                    known[:] = self.capped_categories(known)

    def _teasers(self, teasers: list[Teaser]) -> Iterator[Any]:
        self._remember_categories(teasers, cap=True)
        yield from self.follow_links("teaser", [t.url for t in teasers], self.want)

    def parse_feed(self, response: Response) -> Iterator[Any]:
        teasers = self._read("feed", parse_feed, response)
        if teasers is None:
            return
        if self.planned:
            yield from self._plan_teasers(teasers, priority=30, remember=False)
            return
        yield from self._teasers(teasers)

    def parse_listing(self, response: Response) -> Iterator[Any]:
        listing = self._read_listing(response)
        if listing is None:
            return
        yield from self._teasers(listing.teasers)
        yield from self.follow_links("pager", listing.next_urls, self._listing)

    def _listing(self, url: str) -> Iterator[Request]:
        """Each listing page once: Drupal serves `?page=0` as the bare listing too. At most
        `max_listing_pages` per run, so an endless pager stops."""
        parts = urlsplit(self.canonical(url))
        query = [(k, v) for k, v in parse_qsl(parts.query) if (k, v) != ("page", "0")]
        key = urlunsplit(parts._replace(query=urlencode(query)))
        limit = self.config.max_listing_pages
        if key not in self.listings_seen and limit and len(self.listings_seen) >= limit:
            reach_bound(
                self.crawler, "max_listing_pages", limit, stop=False,
                what="no more pager links followed",
            )  # fmt: skip
            return
        if key not in self.listings_seen:
            request = self._aux(url, self.parse_listing)
            self.listings_seen.add(key)
            yield request
