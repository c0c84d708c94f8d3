"""URL identity: every page is keyed by its canonical public URL on https://www.aalto.fi.

Shared by page objects (canonical links), spiders (what to follow) and the pipeline, so the
three can never disagree on what a page's identity is.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

PUBLIC_HOST = "www.aalto.fi"
SITE_HOSTS = frozenset({"www.aalto.fi", "aalto.fi"})
TRACKING_PARAMS = frozenset({"fbclid", "gclid", "msclkid", "redirectfrom"})

LANGS = ("en", "fi", "sv")
NEWS_SECTIONS = {"en": "news", "fi": "uutiset", "sv": "nyheter"}
COLLABORATION_SECTIONS = {"en": "collaboration", "fi": "yhteistyo", "sv": "samarbete"}
HUB_PATHS = {
    "en": "/en/collaboration/collaboration-with-cities-and-regions",
    "fi": "/fi/yhteistyo/kaupunki-ja-alueyhteistyo",
    "sv": "/sv/samarbete/samarbete-med-stader-och-regioner",
}
LISTING_PATHS = {lang: f"/{lang}/{section}" for lang, section in NEWS_SECTIONS.items()}
FEED_PATH = "/en/news/feed"

_CONTENT_RE = re.compile(
    r"^/(?P<lang>en|fi|sv)/(?P<section>news|uutiset|nyheter|collaboration|yhteistyo|samarbete)"
    r"/(?P<slug>[^/].*?)/?$"
)


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith("utm_") or lowered in TRACKING_PARAMS


def clean_query(query: str) -> str:
    """Drop tracking parameters and sort the rest, so equal pages get equal keys."""
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if not _is_tracking(k)]
    return urlencode(sorted(pairs))


def is_site_host(netloc: str, base_url: str | None = None) -> bool:
    netloc = netloc.lower()
    if netloc.split(":")[0] in SITE_HOSTS:
        return True
    return bool(base_url) and netloc == urlsplit(base_url).netloc.lower()


def canonical_url(url: str, base_url: str | None = None) -> str:
    """Map any on-site URL (aalto.fi host variants or the crawled base_url) to the public origin.

    Off-site URLs are returned with only the fragment and tracking parameters removed.
    """
    parts = urlsplit(url.strip())
    host = parts.netloc.lower()
    query = clean_query(parts.query)
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/")
    if not host or is_site_host(host, base_url):
        return urlunsplit(("https", PUBLIC_HOST, path, query, ""))
    return urlunsplit((parts.scheme.lower(), host, parts.path, query, ""))


def to_fetch_url(url: str, base_url: str) -> str:
    """Where to fetch an on-site URL from: the public path on base_url (a local mirror in tests)."""
    parts = urlsplit(url)
    base = urlsplit(base_url)
    if parts.netloc and not is_site_host(parts.netloc.lower(), base_url):
        return url
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

    Decided by URL, not markup: people and services pages share the article markup.
    """
    parts = urlsplit(url)
    if parts.query:
        return None
    m = _CONTENT_RE.match(parts.path)
    if not m:
        return None
    lang, section, slug = m.group("lang"), m.group("section"), m.group("slug")
    if section == NEWS_SECTIONS[lang]:
        if "/" in slug or slug in ("feed", "rss"):
            return None
        return "news", lang
    if section == COLLABORATION_SECTIONS[lang]:  # nested collaboration pages count too
        return "partnership", lang
    return None
