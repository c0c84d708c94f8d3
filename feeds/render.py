"""FeedSpec -> RSS 2.0 and Atom bytes with feedgen.

Every date feedgen would default to "now" is set from the data, so the output is a pure
function of the archive.
"""

from __future__ import annotations

from feedgen.feed import FeedGenerator
from lxml import etree

from feeds.entries import FeedSpec, feed_entry_id, feed_id
from feeds.sanitize import PUBLIC_ORIGIN, strip_invalid_chars

ATOM = "http://www.w3.org/2005/Atom"


def _generator(spec: FeedSpec) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(feed_id(spec.name))
    fg.title(strip_invalid_chars(spec.title))
    fg.subtitle(strip_invalid_chars(spec.description))
    fg.description(strip_invalid_chars(spec.description))
    if spec.self_url:
        fg.link(href=spec.self_url, rel="self")
    fg.link(href=spec.link, rel="alternate")  # last: feedgen takes the RSS <link> from it
    fg.author({"name": "Aalto University", "uri": PUBLIC_ORIGIN + "/"})
    fg.generator("aaltowatch")
    if spec.language:
        fg.language(spec.language)
    fg.updated(spec.updated)
    fg.lastBuildDate(spec.updated)
    for entry in spec.entries:
        fe = fg.add_entry(order="append")
        entry_id = feed_entry_id(spec.name, entry.id)
        fe.id(entry_id)
        fe.guid(entry_id, permalink=False)
        fe.title(entry.title)
        if entry.link:
            fe.link(href=entry.link, rel="alternate")
        if entry.published:
            fe.published(entry.published)
        fe.updated(entry.updated)
        if entry.summary:
            fe.summary(entry.summary, type="html")
        if entry.content:
            fe.content(entry.content, type="html")
        for category in entry.categories:
            fe.category(term=category, label=category)
        if entry.enclosure:
            fe.enclosure(entry.enclosure.url, "0", entry.enclosure.type)
    return fg


def _atom_links(atom: bytes, spec: FeedSpec) -> bytes:
    """Rewrite entry links: feedgen 1.0 drops rel/type on Atom entry links, which would turn
    the image enclosure into a second `alternate` link. The Atom file's rel="self" is itself."""
    root = etree.fromstring(atom)
    self_url = spec.self_url or ""  # the rel="self" link is there only when it is set
    for link in root.findall(f"{{{ATOM}}}link[@rel='self']"):
        path, query = self_url.split("?", 1) if "?" in self_url else (self_url, "")
        link.set("href", path.removesuffix(".xml") + ".atom" + (f"?{query}" if query else ""))
    for element, entry in zip(root.findall(f"{{{ATOM}}}entry"), spec.entries, strict=True):
        for link in element.findall(f"{{{ATOM}}}link"):
            element.remove(link)
        if entry.link:
            etree.SubElement(element, f"{{{ATOM}}}link", href=entry.link, rel="alternate")
        if entry.enclosure:
            etree.SubElement(
                element,
                f"{{{ATOM}}}link",
                href=entry.enclosure.url,
                rel="enclosure",
                type=entry.enclosure.type,
                length="0",
            )
    etree.indent(root, space="  ")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def render(spec: FeedSpec) -> tuple[bytes, bytes]:
    """(RSS 2.0, Atom) documents for one feed."""
    fg = _generator(spec)
    return fg.rss_str(pretty=True), _atom_links(fg.atom_str(pretty=True), spec)
