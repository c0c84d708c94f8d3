"""News listing pages -> teasers (the only source of categories besides the feed) + pager links."""

from __future__ import annotations

from lxml import etree

from aaltowatch.core.items import ListingPage, Teaser
from aaltowatch.core.text import clean_inline, inline_text, iso_utc
from aaltowatch.core.urls import content_kind
from pages.decode import decode_html
from pages.dom import has_ancestor, node_text, parse_html
from pages.links import fetch_url, public_url

_ROW = "//div[contains(concat(' ', normalize-space(@class), ' '), ' aalto-listing-row ')]"


def _categories(text: str) -> list[str]:
    return [c for c in (inline_text(part) for part in text.split(",")) if c]


def _teaser(row: etree._Element, link: etree._Element, url: str, base_url: str | None) -> Teaser:
    def text_of(hint: str) -> str:
        found = row.xpath(f".//*[contains(@class, '{hint}')]")
        return node_text(found[0]) if found else ""

    stamp = row.xpath(".//time/@datetime")
    return Teaser(
        url=public_url(link.get("href", ""), url, base_url),
        title=clean_inline(node_text(link)),
        lead=clean_inline(text_of("summary")),
        published=iso_utc(stamp[0]) if stamp else None,
        categories=_categories(text_of("categor")),
    )


def _fallback_teasers(root: etree._Element, url: str, base_url: str | None) -> list[Teaser]:
    """Drifted markup: every content link in <main>, with the smallest box around it as row."""
    teasers: dict[str, Teaser] = {}
    for link in root.iter("a"):
        href = link.get("href")
        if not href or has_ancestor(link, ("header", "nav", "footer"), ("breadcrumb", "pager")):
            continue
        target = public_url(href, url, base_url)
        if not content_kind(target) or target in teasers or not node_text(link):
            continue
        row = link
        while row.getparent() is not None and row.getparent() is not root:
            parent = row.getparent()
            if len({a.get("href") for a in parent.iter("a") if a.get("href")}) > 1:
                break
            row = parent
        teasers[target] = _teaser(row, link, url, base_url)
    return list(teasers.values())


def parse_listing(body: bytes | str, url: str, *, base_url: str | None = None) -> ListingPage:
    """Teasers of a news listing page and the absolute fetchable URLs of its pager links."""
    text = decode_html(body) if isinstance(body, bytes) else body
    sel = parse_html(text)
    teasers = []
    for row in sel.xpath(_ROW):
        links = row.root.xpath(".//a[contains(@class, 'aalto-listing-row__link')][@href]")
        if links:
            teasers.append(_teaser(row.root, links[0], url, base_url))
    if not teasers:
        roots = sel.xpath("//main") or sel.xpath("//body")
        teasers = _fallback_teasers(roots[0].root, url, base_url) if roots else []
    hrefs = sel.xpath("//a[contains(@class, 'aalto-pager__item-link')]/@href").getall()
    if not hrefs:
        hrefs = [
            h for h in sel.xpath("//nav//a/@href | //a[@rel='next']/@href").getall() if "page=" in h
        ]
    next_urls: list[str] = []
    here = fetch_url(url, url, base_url)
    for href in hrefs:
        target = fetch_url(href, url, base_url)
        if target != here and target not in next_urls:
            next_urls.append(target)
    return ListingPage(url=public_url(url, url, base_url), teasers=teasers, next_urls=next_urls)
