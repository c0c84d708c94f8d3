"""The site's RSS 2.0 news feed (Atom accepted too) -> teasers with categories."""

from __future__ import annotations

import lxml.html
from lxml import etree

from aaltowatch.core.errors import ExtractionError
from aaltowatch.core.items import Teaser
from aaltowatch.core.text import clean_inline, inline_text, iso_utc
from pages.dom import node_text
from pages.links import public_url
from pages.xmldoc import child_text, children, local, parse_xml


def html_to_text(fragment: str | None) -> str | None:
    """Plain text of an escaped-HTML description such as '<p>The lead.</p>'."""
    if not fragment or not fragment.strip():
        return None
    try:
        return clean_inline(node_text(lxml.html.fragment_fromstring(fragment, create_parent="div")))
    except (etree.LxmlError, ValueError):
        return clean_inline(fragment)


def _rss_item(item: etree._Element, url: str, base_url: str | None) -> Teaser | None:
    link = inline_text(child_text(item, "link"))
    if not link:
        return None
    return Teaser(
        url=public_url(link, url, base_url),
        title=clean_inline(child_text(item, "title")),
        lead=html_to_text(child_text(item, "description")),
        published=iso_utc(child_text(item, "pubDate") or child_text(item, "date")),
        categories=[
            c for c in (inline_text("".join(x.itertext())) for x in children(item, "category")) if c
        ],
    )


def _atom_entry(entry: etree._Element, url: str, base_url: str | None) -> Teaser | None:
    links = children(entry, "link")
    alternate = [x for x in links if x.get("rel", "alternate") == "alternate" and x.get("href")]
    if not alternate:
        return None
    lead = child_text(entry, "summary") or child_text(entry, "content")
    return Teaser(
        url=public_url(alternate[0].get("href", ""), url, base_url),
        title=clean_inline(child_text(entry, "title")),
        lead=html_to_text(lead),
        published=iso_utc(child_text(entry, "published") or child_text(entry, "updated")),
        categories=[
            c
            for c in (
                inline_text(x.get("term") or x.get("label")) for x in children(entry, "category")
            )
            if c
        ],
    )


def parse_feed(body: bytes | str, url: str, *, base_url: str | None = None) -> list[Teaser]:
    """Teasers of an RSS 2.0 or Atom feed, links mapped to canonical public URLs."""
    root = parse_xml(body)
    kind = local(root)
    if kind in ("rss", "RDF"):
        items = [i for c in children(root, "channel") for i in children(c, "item")]
        items += children(root, "item")
        teasers = [_rss_item(i, url, base_url) for i in items]
    elif kind == "feed":
        teasers = [_atom_entry(e, url, base_url) for e in children(root, "entry")]
    else:
        raise ExtractionError(f"not an RSS or Atom feed (root <{kind}>)")
    return [t for t in teasers if t is not None]
