"""News: listings of all three languages (pager to the end), the site RSS and the sitemaps."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from scrapy import Request
from scrapy.http import Response

from aaltowatch.errors import ExtractionError
from aaltowatch.items import Teaser
from aaltowatch.urls import FEED_PATH, LISTING_PATHS, content_kind
from pages import parse_feed, parse_listing
from pages.sitemap import iter_sitemap
from spiders.base import AaltoSpider
from spiders.bounds import reach_bound

log = logging.getLogger(__name__)


class NewsSpider(AaltoSpider):
    name = "news"
    kind = "news"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Sitemaps first (their lastmods let later phases skip unmoved pages), then listings.
        self.phases = ["listings", "deferred", "known"]
        self.listings_seen: set[str] = set()

    def discover(self) -> Iterator[Request]:
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
        yield from super().run_phase(response, phase)

    def parse_sitemap(self, response: Response, depth: int = 0) -> Iterator[Any]:
        """Read as a stream, at most `max_sitemap_urls` entries and `max_sitemap_depth` index
        levels deep: a huge sitemap or an endless index chain cannot starve the articles."""
        max_urls = self.config.max_sitemap_urls
        read = 0
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
                    yield from self._sitemap_child(entry.loc, depth + 1)
                    continue
                kind = content_kind(entry.loc)
                if kind and kind[0] == self.kind:
                    if entry.lastmod:
                        self.lastmods[entry.loc] = entry.lastmod
                    self.deferred.append(entry.loc)
        except ExtractionError as exc:
            log.warning("sitemap %s unreadable: %s", response.url, exc)
            self.count("extraction_errors")

    def _sitemap_child(self, loc: str, depth: int) -> Iterator[Request]:
        if depth > self.config.max_sitemap_depth:
            reach_bound(
                self.crawler, "max_sitemap_depth", self.config.max_sitemap_depth, stop=False,
                what="deeper sitemaps skipped",
            )  # fmt: skip
            return
        yield self._aux(
            self.fetch_url(loc), self.parse_sitemap, priority=50, cb_kwargs={"depth": depth}
        )

    def _teasers(self, teasers: list[Teaser]) -> Iterator[Any]:
        for teaser in teasers:
            if teaser.categories:
                known = self.categories.setdefault(teaser.url, [])
                known.extend(c for c in teaser.categories if c not in known)
                known[:] = self.capped_categories(known)
        for teaser in teasers:
            yield from self.want(teaser.url)

    def parse_feed(self, response: Response) -> Iterator[Any]:
        try:
            teasers = parse_feed(response.body, response.url, base_url=self.base_url)
        except ExtractionError as exc:
            log.warning("feed %s unreadable: %s", response.url, exc)
            self.count("extraction_errors")
            return
        yield from self._teasers(teasers)

    def parse_listing(self, response: Response) -> Iterator[Any]:
        try:
            listing = parse_listing(response.body, response.url, base_url=self.base_url)
        except ExtractionError as exc:
            log.warning("listing %s unreadable: %s", response.url, exc)
            self.count("extraction_errors")
            return
        self.count("listing_pages")
        if not listing.teasers:
            self.count("empty_listings")
        yield from self._teasers(listing.teasers)
        for url in listing.next_urls:
            yield from self._listing(url)

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
            self.listings_seen.add(key)
            yield self._aux(url, self.parse_listing)
