"""Item schema shared by page objects, spiders, the pipeline and storage.

Plain dataclasses: Scrapy accepts them as items, and page objects stay free of Scrapy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any


class Source(StrEnum):
    """Where an extracted field came from; `item.sources` records one per field."""

    SELECTOR = "selector"  # the site's own markup
    META = "meta"  # the page's metadata (og:*, time[datetime], canonical)
    FALLBACK = "fallback"  # a generic reading of the page: works, but is a sign of drift
    MISSING = "missing"


# Sources that are the site's layout as we know it: a field leaving them is layout drift.
TRUSTED_SOURCES = frozenset({Source.SELECTOR, Source.META})


@dataclass(kw_only=True)
class ItemBase:
    """What a page item carries besides its page object's fields (aaltowatch.core.fields):
    where it was fetched from, how it was read, and the HTTP record stored with it in one
    transaction. The item class (pages.article.PageItem) adds one attribute per field."""

    fetched_url: str | None = None
    moved_from: str | None = None  # a 301 source, for `moved`
    flags: list[str] = field(default_factory=list)
    extraction: dict[str, str] = field(default_factory=dict)  # field -> Source
    sitemap_lastmod: str | None = None
    fetch: dict[str, Any] | None = field(default=None, repr=False)

    if TYPE_CHECKING:  # the field attributes are made at run time from their declarations

        def __init__(self, **values: Any) -> None: ...

        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["fetch"]
        return out


@dataclass
class Teaser:
    """A news teaser from a listing page or the site feed: the only source of categories."""

    url: str
    title: str | None = None
    lead: str | None = None
    published: str | None = None
    categories: list[str] = field(default_factory=list)


@dataclass
class ListingPage:
    url: str
    teasers: list[Teaser] = field(default_factory=list)
    next_urls: list[str] = field(default_factory=list)


@dataclass
class SitemapEntry:
    loc: str
    lastmod: str | None = None
    alternates: dict[str, str] = field(default_factory=dict)


@dataclass
class Sitemap:
    """Either an index (sitemaps) or a urlset (entries)."""

    sitemaps: list[SitemapEntry] = field(default_factory=list)
    entries: list[SitemapEntry] = field(default_factory=list)


@dataclass
class Unchanged:
    """A page known not to have moved: a 304, or a sitemap lastmod equal to the stored one.

    A 304's `parse` makes the page items from the stored body: the pipeline decides whether it
    is needed (the archive does not hold that body as the page's current version).
    """

    url: str
    reason: str  # "304" | "lastmod"
    categories: list[str] | None = None
    sitemap_lastmod: str | None = None
    fetch: dict[str, Any] | None = field(default=None, repr=False)
    truncated: list[str] = field(default_factory=list)  # "categories" when they were cut
    parse: Callable[[], Iterator[Any]] | None = field(default=None, repr=False, compare=False)


@dataclass
class Gone:
    """A URL that answered 404/410: the pipeline may mark its page removed."""

    url: str
    http_status: int
    fetched_at: str | None = None


class CheckOutcome(StrEnum):
    """What one fetch or revalidation of a content page found (the `checks` table)."""

    NEW = "new"  # first 200 of a page never stored
    CHANGED = "changed"  # 200 with new content (or a page back from removal)
    SAME = "same"  # 200 with the same content
    NOT_MODIFIED = "not_modified"  # 304
    GONE = "gone"  # 404/410
    MOVED = "moved"  # 301/308 to another page
    ERROR = "error"  # network error, 5xx after retries, unreadable, temporary redirect

    @property
    def verified(self) -> bool:
        """The page's state is known after this check (an error tells nothing)."""
        return self is not CheckOutcome.ERROR

    @property
    def changed(self) -> bool:
        """The check found the page different from the previous check."""
        return self in (CheckOutcome.CHANGED, CheckOutcome.GONE, CheckOutcome.MOVED)


@dataclass
class Checked:
    """A check that stores no page: an error (never a removal), or a URL never stored that
    answered 301 (its target is fetched instead)."""

    url: str
    outcome: CheckOutcome = CheckOutcome.ERROR
    http_status: int | None = None
