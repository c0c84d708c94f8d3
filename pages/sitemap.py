"""sitemap.xml (index or urlset) -> Sitemap with UTC lastmod and hreflang alternates."""

from __future__ import annotations

from aaltowatch.errors import ExtractionError
from aaltowatch.items import Sitemap, SitemapEntry
from pages.links import fetch_url, public_url
from pages.text import clean_text, to_utc_iso
from pages.xmldoc import child_text, children, local, parse_xml


def parse_sitemap(body: bytes | str, url: str, *, base_url: str | None = None) -> Sitemap:
    """Index entries get fetchable locs (on base_url); urlset entries get canonical public locs."""
    root = parse_xml(body)
    kind = local(root)
    result = Sitemap()
    if kind == "sitemapindex":
        for node in children(root, "sitemap"):
            loc = clean_text(child_text(node, "loc"))
            if loc:
                lastmod = to_utc_iso(child_text(node, "lastmod"))
                result.sitemaps.append(SitemapEntry(fetch_url(loc, url, base_url), lastmod))
    elif kind == "urlset":
        for node in children(root, "url"):
            loc = clean_text(child_text(node, "loc"))
            if not loc:
                continue
            alternates = {
                clean_text(link.get("hreflang")): public_url(link.get("href", ""), url, base_url)
                for link in children(node, "link")
                if link.get("rel") == "alternate" and link.get("hreflang") and link.get("href")
            }
            entry = SitemapEntry(
                public_url(loc, url, base_url), to_utc_iso(child_text(node, "lastmod")), alternates
            )
            result.entries.append(entry)
    else:
        raise ExtractionError(f"not a sitemap (root <{kind}>)")
    return result
