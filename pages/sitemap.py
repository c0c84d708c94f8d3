"""sitemap.xml (index or urlset) -> entries with UTC lastmod and hreflang alternates.

Parsed as a stream (lxml iterparse, each entry dropped once read), so a sitemap of a million
URLs costs the memory of one entry, and a caller that has read enough simply stops iterating.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from itertools import islice

from lxml import etree

from aaltowatch.core.errors import ExtractionError
from aaltowatch.core.items import Sitemap, SitemapEntry
from aaltowatch.core.text import inline_text, iso_utc
from pages.links import fetch_url, public_url
from pages.xmldoc import child_text, children, local

KINDS = {"sitemapindex": "sitemap", "urlset": "url"}
"""Root element -> the element of one entry."""


def _entry(kind: str, node: etree._Element, url: str, base_url: str | None) -> SitemapEntry | None:
    loc = inline_text(child_text(node, "loc"))
    if not loc:
        return None
    lastmod = iso_utc(child_text(node, "lastmod"))
    if kind == "sitemapindex":
        return SitemapEntry(fetch_url(loc, url, base_url), lastmod)
    alternates = {
        inline_text(link.get("hreflang")): public_url(link.get("href", ""), url, base_url)
        for link in children(node, "link")
        if link.get("rel") == "alternate" and link.get("hreflang") and link.get("href")
    }
    return SitemapEntry(public_url(loc, url, base_url), lastmod, alternates)


def iter_sitemap(
    body: bytes | str, url: str, *, base_url: str | None = None
) -> Iterator[tuple[bool, SitemapEntry]]:
    """(is_child_sitemap, entry) in document order.

    Index entries get fetchable locs (on base_url); urlset entries get canonical public locs.
    Raises ExtractionError when the document is not a sitemap at all.
    """
    data = body.encode("utf-8", errors="surrogatepass") if isinstance(body, str) else body
    events = etree.iterparse(
        io.BytesIO(data.lstrip()),
        events=("start", "end"),
        recover=True,
        resolve_entities=False,
        no_network=True,
        remove_comments=True,
        remove_pis=True,
    )
    root: etree._Element | None = None
    kind = ""
    try:
        for event, node in events:
            if root is None:
                root, kind = node, local(node)
                if kind not in KINDS:
                    raise ExtractionError(f"not a sitemap (root <{kind}>)")
                continue
            if event != "end" or node.getparent() is not root:
                continue
            if local(node) == KINDS[kind]:
                entry = _entry(kind, node, url, base_url)
                if entry is not None:
                    yield kind == "sitemapindex", entry
            node.clear()
            while node.getprevious() is not None:  # drop what was read: memory stays flat
                del root[0]
    except (etree.LxmlError, ValueError) as exc:
        if root is None:
            raise ExtractionError(f"unparsable XML: {exc}") from exc
        return  # a broken tail: keep what was read, like the recovering parser does
    if root is None:
        raise ExtractionError("not an XML document")


def parse_sitemap(
    body: bytes | str, url: str, *, base_url: str | None = None, max_urls: int | None = None
) -> Sitemap:
    """The whole sitemap (or its first `max_urls` entries) as one object."""
    result = Sitemap()
    for is_index, entry in islice(iter_sitemap(body, url, base_url=base_url), max_urls):
        (result.sitemaps if is_index else result.entries).append(entry)
    return result
