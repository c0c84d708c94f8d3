"""Forgiving XML parsing for feeds and sitemaps: bad bytes give ExtractionError, never a crash."""

from __future__ import annotations

from lxml import etree

from aaltowatch.core.errors import ExtractionError


def parse_xml(body: bytes | str) -> etree._Element:
    """Root element of an XML document, recovering what lxml can from broken markup."""
    data = body.encode("utf-8", errors="surrogatepass") if isinstance(body, str) else body
    parser = etree.XMLParser(
        recover=True, resolve_entities=False, no_network=True, remove_comments=True
    )
    try:
        root = etree.fromstring(data.lstrip(), parser=parser)
    except (etree.LxmlError, ValueError) as exc:
        raise ExtractionError(f"unparsable XML: {exc}") from exc
    if root is None or not isinstance(root.tag, str):
        raise ExtractionError("not an XML document")
    return root


def local(el: etree._Element) -> str:
    """Tag name without its namespace."""
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if local(c) == name]


def child_text(el: etree._Element, name: str) -> str | None:
    for c in children(el, name):
        return "".join(c.itertext())
    return None
