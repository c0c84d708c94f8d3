"""URL identity: every page is keyed by its canonical public URL on https://www.aalto.fi.

Shared by page objects (canonical links), spiders (what to follow) and the pipeline, so the
three can never disagree on what a page's identity is.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url as _w3lib_canonical

PUBLIC_HOST = "www.aalto.fi"
PUBLIC_ORIGIN = f"https://{PUBLIC_HOST}"
SITE_HOSTS = frozenset({"www.aalto.fi", "aalto.fi"})
# Query parameters that only track the visitor, the one list: a name in TRACKING_PARAMS or
# starting with a TRACKING_PREFIXES entry never makes a page's key (compared case-blind).
TRACKING_PREFIXES = ("utm_", "_hs", "mc_", "oly_")
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "twclid",
        "li_fat_id",
        "srsltid",
        "mkt_tok",
        "vero_id",
        "_ga",
        "_gl",
        "ref",
        "redirectfrom",
    }
)

LANGS = ("en", "fi", "sv")


@dataclass(frozen=True)
class SectionFeeds:
    """The feeds a section publishes (feeds.build). Their file names derive from its spider, so
    an archive keeps its feed URLs: `<spider>-<lang>.xml`, its live pages newest first, one per
    language, and `<spider>.xml`, its changes. A title "" means no such feed. In the texts
    `{name}` is the section's name and `{language}` the feed's language."""

    pages_title: str = "Aalto University {name} ({language})"
    pages_about: str = "The {name} pages of www.aalto.fi in {language}, newest first."
    changes_title: str = "www.aalto.fi: {name} changes"
    changes_about: str = "Changes to the {name} pages of www.aalto.fi."


@dataclass(frozen=True)
class Section:
    """A watched section of the site, declared once: URL patterns, spider choices, schedule
    entries, watch kinds, feeds, views, the planner's weights, the request budget, status and
    health derive from `SECTIONS`. Its spider lives in `spiders/<spider>.py`.
    """

    kind: str  # the page kind its pages are stored as (and a watch's `kinds` names)
    spider: str  # the spider that crawls it (CLI choice, schedule key, run name, feed names)
    name: str  # how feeds name it ("news", "partnership")
    slugs: dict[str, str]  # language -> the section's first path segment
    cron: str  # the default schedule (crontab syntax, UTC); the run's budget derives from it
    required: tuple[str, ...]  # fields every page must have (missing ones = layout drift)
    # The planner's weight of a page's revisit (planner.importance); `recent_importance`, if
    # set, while the page is younger than planner.RECENT_DAYS (it is then also verified within
    # `revisit_recent_max_hours`).
    importance: float
    recent_importance: float | None = None
    nested: bool = False  # deeper paths are pages of the section too
    not_pages: tuple[str, ...] = ()  # slugs under the section that are no pages (feeds)
    # The page each language starts from (feed links, a spider's entry); default its root.
    home: dict[str, str] | None = None
    feeds: SectionFeeds = SectionFeeds()
    view: str = ""  # its analysts' view of live pages (storage.migrations); "": <kind>_pages
    # The site always has pages of it: a run that sees none is unhealthy even on a fresh
    # archive. Otherwise only once the archive has held pages of it (a new section may have
    # nothing yet).
    pages_expected: bool = False

    @property
    def home_paths(self) -> dict[str, str]:
        return self.home or {lang: f"/{lang}/{slug}" for lang, slug in self.slugs.items()}

    @property
    def page_feeds(self) -> dict[str, str]:
        """language -> the file stem of its page feed (none without a `pages_title`)."""
        if not self.feeds.pages_title:
            return {}
        return {lang: f"{self.spider}-{lang}" for lang in self.home_paths}

    @property
    def change_feed(self) -> str | None:
        """The file stem of its change feed, if it has one."""
        return self.spider if self.feeds.changes_title else None

    @property
    def view_name(self) -> str:
        return self.view or f"{self.kind}_pages"


NEWS = Section(
    kind="news",
    spider="news",
    name="news",
    slugs={"en": "news", "fi": "uutiset", "sv": "nyheter"},
    cron="*/30 * * * *",
    required=("title", "body", "published"),
    importance=1.0,
    recent_importance=2.0,
    not_pages=("feed", "rss"),
    feeds=SectionFeeds(
        pages_about="News articles of www.aalto.fi in {language}, newest first.",
        changes_title="",
    ),
    view="news",
    pages_expected=True,
)
PARTNERSHIPS = Section(
    kind="partnership",
    spider="partnerships",
    name="partnership",
    slugs={"en": "collaboration", "fi": "yhteistyo", "sv": "samarbete"},
    cron="15 6 * * *",
    required=("title", "body"),
    importance=3.0,
    nested=True,
    home={
        "en": "/en/collaboration/collaboration-with-cities-and-regions",
        "fi": "/fi/yhteistyo/kaupunki-ja-alueyhteistyo",
        "sv": "/sv/samarbete/samarbete-med-stader-och-regioner",
    },
    feeds=SectionFeeds(
        pages_title="",
        changes_title="www.aalto.fi: partnership page changes",
        changes_about="Changes to the collaboration (partnership) pages of www.aalto.fi.",
    ),
    pages_expected=True,
)
SECTIONS = (NEWS, PARTNERSHIPS)
KINDS = tuple(section.kind for section in SECTIONS)
SPIDER_NAMES = tuple(section.spider for section in SECTIONS)
SECTION_OF_KIND = {section.kind: section for section in SECTIONS}

NEWS_SECTIONS = NEWS.slugs
HUB_PATHS = PARTNERSHIPS.home_paths
LISTING_PATHS = NEWS.home_paths
FEED_PATH = f"{LISTING_PATHS['en']}/feed"  # the site RSS

_CONTENT_RE = re.compile(
    rf"^/(?P<lang>{'|'.join(LANGS)})"
    rf"/(?P<section>{'|'.join(sorted({re.escape(s) for x in SECTIONS for s in x.slugs.values()}))})"
    r"/(?P<slug>[^/].*?)/?$"
)


class OffSiteURL(ValueError):
    """A URL outside the site: never mapped onto base_url, never fetched."""


def has_unsafe_chars(url: str) -> bool:
    """True when a URL holds control or format characters (C0/C1 controls, bidi overrides and
    isolates, zero-width marks): a key with them would write escape sequences to terminals."""
    if url.isascii() and url.isprintable():  # the common case, without a per-character loop
        return False
    return any(unicodedata.category(ch) in ("Cc", "Cf") for ch in url.strip())


def strip_unsafe(url: str) -> str:
    """The URL without control and format characters (see has_unsafe_chars)."""
    if url.isascii() and url.isprintable():  # printable ASCII has no Cc or Cf character
        return url
    return "".join(ch for ch in url if unicodedata.category(ch) not in ("Cc", "Cf"))


def is_tracking_param(name: str) -> bool:
    """A query parameter that only tracks the visitor (utm_*, fbclid, ...): never part of a key."""
    lowered = name.lower()
    return lowered.startswith(TRACKING_PREFIXES) or lowered in TRACKING_PARAMS


def clean_query(query: str) -> str:
    """Drop tracking parameters and sort the rest, so equal pages get equal keys. Values stay
    as sent (no decode and re-encode, which would turn a non-UTF-8 escape into U+FFFD)."""
    pairs = [p for p in query.split("&") if p]
    return "&".join(sorted(p for p in pairs if not is_tracking_param(unquote(p.split("=")[0]))))


def _hostname(netloc: str) -> str:
    """The host of a netloc without user info or port ("a@www.aalto.fi:1" -> "www.aalto.fi")."""
    return (urlsplit(f"//{netloc}").hostname or "").lower()


def is_site_host(netloc: str, base_url: str | None = None) -> bool:
    netloc = netloc.lower()
    if "@" not in netloc and _hostname(netloc) in SITE_HOSTS:
        return True
    return bool(base_url) and netloc == urlsplit(base_url).netloc.lower()


@lru_cache(maxsize=8192)
def canonical_url(url: str, base_url: str | None = None) -> str:
    """Map any on-site URL (aalto.fi host variants or the crawled base_url) to the public origin.

    Off-site URLs are returned with only the fragment and tracking parameters removed. Control
    and bidi characters are removed from every URL: stored keys never carry them. Escapes are
    w3lib's canonical form (Scrapy's request fingerprints use it too): `caf%c3%a9`, `caf%C3%A9`
    and `café` are one key, `caf%C3%A9`.

    Cached: a pure function of its arguments, asked about the same menu, card and page URLs
    many times a page (URL canonicalisation was 5-10 % of a crawl's CPU).
    """
    parts = urlsplit(strip_unsafe(url.strip()))
    host = parts.netloc.lower()
    query = clean_query(parts.query)
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/")
    on_site = not host or is_site_host(host, base_url)
    if on_site and parts.scheme.lower() in ("http", "https", ""):
        return _w3lib_canonical(urlunsplit(("https", PUBLIC_HOST, path, query, "")))
    return urlunsplit((parts.scheme.lower(), host, parts.path, query, ""))


def to_fetch_url(url: str, base_url: str) -> str:
    """Where to fetch an on-site URL from: the public path on base_url (a local mirror in tests).

    Raises OffSiteURL for anything off the site (another host, another scheme such as file:):
    only the trust boundary's own hosts are ever mapped onto base_url.
    """
    parts = urlsplit(url)
    base = urlsplit(base_url)
    if parts.scheme.lower() not in ("http", "https", "") or (
        parts.netloc and not is_site_host(parts.netloc.lower(), base_url)
    ):
        raise OffSiteURL(f"not on the site: {url}")
    return urlunsplit((base.scheme, base.netloc, parts.path or "/", parts.query, ""))


def absolute(href: str, page_url: str) -> str:
    return urljoin(page_url, href.strip())


def is_on_site(url: str, base_url: str | None = None) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https", "") and (
        not parts.netloc or is_site_host(parts.netloc.lower(), base_url)
    )


def content_kind(url: str) -> tuple[str, str] | None:
    """(kind, lang) of a content page URL, or None for anything else (listings, people, ...).

    Decided by URL, not markup: people and services pages share the article markup. Only
    public-origin URLs (or bare paths) qualify: an off-site path that looks like ours does not,
    nor a URL that does not parse.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.query or parts.scheme.lower() not in ("http", "https", ""):
        return None
    if parts.netloc and ("@" in parts.netloc or _hostname(parts.netloc) not in SITE_HOSTS):
        return None
    m = _CONTENT_RE.match(parts.path)
    if not m:
        return None
    lang, slug = m.group("lang"), m.group("slug")
    for section in SECTIONS:
        if m.group("section") == section.slugs[lang]:
            if not section.nested and ("/" in slug or slug in section.not_pages):
                return None
            return section.kind, lang
    return None
