"""The collaboration hub's links: how the hub names each partnership page it points to.

Pure: the hub's bytes + URL in, {public URL: link text} out. Only links inside the article
(lift-up cards and links in the text) count, never the menu, footer or share widget.
"""

from __future__ import annotations

from aaltowatch.core.text import clean_inline
from aaltowatch.core.urls import PARTNERSHIPS, content_kind
from pages.decode import decode_html
from pages.dom import parse_html
from pages.links import public_url

ARTICLE = "//div[contains(concat(' ', normalize-space(@class), ' '), ' aalto-article ')]"


def hub_links(
    raw: bytes, url: str, content_type: str | None = None, base_url: str | None = None
) -> dict[str, list[str]]:
    """Link texts per partnership page linked from the hub's article, in document order."""
    doc = parse_html(decode_html(raw, content_type))
    scope = doc.xpath(ARTICLE) or doc.xpath("//main") or doc.xpath("//body")
    out: dict[str, list[str]] = {}
    for anchor in scope[0].xpath(".//a[@href]") if scope else []:
        target = public_url(anchor.attrib["href"], url, base_url)
        kind = content_kind(target)
        text = clean_inline(" ".join(anchor.xpath(".//text()").getall()))
        if kind and kind[0] == PARTNERSHIPS.kind and target != url and text:
            texts = out.setdefault(target, [])
            if text not in texts:
                texts.append(text)
    return out
