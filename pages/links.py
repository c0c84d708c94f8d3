"""Link mapping for page objects: anything on-site becomes a public https://www.aalto.fi URL.

Pages are fetched from a mirror (a local server in tests) but identified by their public URL,
so every href is resolved against the fetched URL and then folded onto the public origin.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from aaltowatch.core.urls import absolute, canonical_url, is_on_site, to_fetch_url


def site_base(url: str, base_url: str | None) -> str:
    """The origin the page was fetched from: base_url, else the fetched URL's own origin."""
    return base_url or url


def public_url(
    href: str, page_url: str, base_url: str | None, *, keep_fragment: bool = False
) -> str:
    """Absolute public URL for an on-site href; off-site and non-http links stay absolute as is."""
    try:
        target = absolute(href, page_url)
        parts = urlsplit(target)
    except ValueError:
        return href.strip()
    if parts.scheme not in ("http", "https") or not is_on_site(
        target, site_base(page_url, base_url)
    ):
        return target
    result = canonical_url(target, site_base(page_url, base_url))
    if keep_fragment and parts.fragment:
        result += "#" + parts.fragment
    return result


def image_url(src: str, page_url: str, base_url: str | None) -> str:
    """Public image URL without its query: itok/h cache-busters change with no content change."""
    full = public_url(src, page_url, base_url)
    try:
        parts = urlsplit(full)
    except ValueError:
        return full
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def fetch_url(href: str, page_url: str, base_url: str | None) -> str:
    """Absolute URL to fetch next: public-origin links are moved onto the fetched origin.

    An off-site link stays absolute as it is: the spider's trust boundary refuses (and
    counts) it, so a page object never decides on its own what may be fetched.
    """
    try:
        target = absolute(href, page_url)
    except ValueError:
        return href.strip()
    try:
        return to_fetch_url(target, site_base(page_url, base_url))
    except ValueError:  # OffSiteURL, or a URL that does not parse: the spider counts it
        return target
