"""The boundary between crawling and the archive: what spiders and middlewares may ask of it.

Crawling needs three things from storage, each a small protocol here: past fetches (validators
for a conditional GET, the stored body that stands in for a 304, recording a fetch; all the
middleware sees), the stored pages it asks about, and the planner's memory (queue, listing
cursors, teaser hashes). One object holds the three (`CrawlCache`); its class is named by the
`AALTOWATCH_FETCH_CACHE` setting (a dotted path, as Scrapy's `HTTPCACHE_STORAGE`) and built by
its `from_crawler`, so spiders never import storage.
"""

from __future__ import annotations

from typing import Any, Protocol

SETTING = "AALTOWATCH_FETCH_CACHE"
DEFAULT = "storage.Archive"
# An open archive handed to the crawl by its runner (set on the crawler's settings before the
# crawl starts); without one the fetch cache opens the configured database itself.
ARCHIVE_SETTING = "AALTOWATCH_ARCHIVE"


class FetchCache(Protocol):
    """What the conditional-GET middleware needs of past fetches (`archive.fetches`)."""

    def fetch_info(self, url: str) -> dict[str, Any] | None:
        """The last fetch of `url`: validators (etag, last_modified), raw_sha256, fetched_at,
        sitemap_lastmod."""

    def cached_response(self, url: str) -> tuple[bytes, str | None] | None:
        """The stored body and content type that stand in for a 304."""

    def record_fetch(
        self,
        url: str,
        *,
        status: int,
        fetched_at: str,
        body: bytes | None = None,
        sha256: str | None = None,
        content_type: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> None:
        """Keep a fetch's validators (and a 200's bytes)."""


class CrawlFetches(FetchCache, Protocol):
    """Past fetches as the spiders also see them: the lastmods a sitemap gave."""

    def set_sitemap_lastmods(self, lastmods: dict[str, str]) -> None: ...


class KnownPages(Protocol):
    """What the spiders ask of the stored pages (`archive.pages`)."""

    def page(self, url: str) -> dict[str, Any] | None: ...
    def count_pages(self, kind: str | None = None, status: str = "live") -> int: ...
    def known_urls(self, kind: str | None = None, status: str = "live") -> list[str]: ...


class CrawlPlan(Protocol):
    """The planner's memory between runs (`archive.plan`): the queue, what listings and
    sitemaps said, the pages' check history and the listing cursors."""

    def revisit_candidates(self, kind: str) -> list[dict[str, Any]]: ...
    def enqueue(self, rows: list[dict[str, Any]], now: str) -> None: ...
    def queued(
        self, kind: str, tiers: tuple[int, ...], limit: int, langs: tuple[str, ...] | None = None
    ) -> list[dict[str, Any]]: ...
    def queue_sizes(self, kind: str | None = None) -> dict[int, int]: ...
    def teaser_memory(self, urls: list[str]) -> dict[str, dict[str, Any]]: ...
    def set_teaser_hashes(self, hashes: dict[str, str]) -> None: ...
    def stored_lastmods(self, kind: str) -> dict[str, tuple[str, str | None]]: ...
    def settled_unknown_urls(self) -> set[str]: ...
    def plan_state(self, key: str) -> Any: ...
    def set_plan_state(self, key: str, value: Any, now: str) -> None: ...


class CrawlCache(Protocol):
    """Everything crawling asks of storage: one object, loaded from the setting, that holds
    three small parts (as `Archive` holds its stores of the same names)."""

    @property
    def fetches(self) -> CrawlFetches: ...
    @property
    def pages(self) -> KnownPages: ...
    @property
    def plan(self) -> CrawlPlan: ...


def fetch_cache(crawler: Any) -> CrawlCache:
    """The crawl's fetch cache, built by the class the `AALTOWATCH_FETCH_CACHE` setting names."""
    from scrapy.utils.misc import build_from_crawler, load_object

    cls: type[CrawlCache] = load_object(crawler.settings.get(SETTING) or DEFAULT)
    return build_from_crawler(cls, crawler)
