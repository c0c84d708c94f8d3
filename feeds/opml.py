"""feeds.opml: one file a feed reader imports to subscribe to every feed at once."""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import format_datetime

from lxml import etree

from feeds.entries import EPOCH, FeedSpec
from feeds.sanitize import strip_invalid_chars


def _outline(parent: etree._Element, spec: FeedSpec) -> None:
    name = strip_invalid_chars(spec.title)
    etree.SubElement(
        parent,
        "outline",
        type="rss",
        text=name,
        title=name,
        xmlUrl=spec.self_url or f"{spec.name}.xml",
        htmlUrl=spec.link,
    )


def render_opml(specs: Sequence[FeedSpec], title: str = "aaltowatch feeds") -> bytes:
    """OPML 2.0 listing the RSS file of every feed by its absolute URL: readers resolve no
    relative xmlUrl (newsboat imports one and then fetches nothing).

    Feeds are nested in one outline per `FeedSpec.group` (News, Categories (English), Watches,
    ...), in the order the groups first appear: readers make them folders (newsboat: tags).
    """
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    newest = max((s.updated for s in specs), default=EPOCH)
    etree.SubElement(head, "dateModified").text = format_datetime(newest)
    body = etree.SubElement(root, "body")
    groups: dict[str, etree._Element] = {}
    for spec in specs:
        parent = body
        if spec.group:
            if spec.group not in groups:
                label = strip_invalid_chars(spec.group)
                groups[spec.group] = etree.SubElement(body, "outline", text=label, title=label)
            parent = groups[spec.group]
        _outline(parent, spec)
    etree.indent(root, space="  ")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
