"""Hero and in-body figures: public src without cache-busters, alt, caption and credit."""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from aaltowatch.core.text import clean_inline, inline_text
from pages.dom import node_text
from pages.links import image_url

# A credit starts with its label: "Photo: …", "Kuva: …", "Bild: …", "Photo by …", ...
_CREDIT_RE = re.compile(
    r"(?:^|(?<=\s))((?:Photos?|Photograph|Photographer|Picture|Image|Illustration|Graphic|Video|"
    r"Kuva|Kuvat|Kuvaaja|Kuvitus|Piirros|Bild|Bilder|Foto|Fotograf|Illustration)\s*:\s*\S.*"
    r"|Photo(?:graph)?s? by\s+\S.*)$",
    re.DOTALL,
)
# Compiled once: compiling an expression costs about as much as running it on a figure.
_IMGS = etree.XPath("descendant::img")
_CREDITS = etree.XPath("descendant::*[contains(@class, '__credit') or contains(@class, 'credit')]")
_CAPTION_TEXTS = etree.XPath("descendant::*[contains(@class, 'caption-text')]")
_FIGCAPTIONS = etree.XPath("descendant::figcaption")


def split_credit(caption: str) -> tuple[str | None, str | None]:
    """(caption, credit) when the credit is written at the end of the caption text itself."""
    match = _CREDIT_RE.search(caption)
    if not match:
        return clean_inline(caption), None
    return clean_inline(caption[: match.start()]), clean_inline(match.group(1))


def _src(img: etree._Element) -> str | None:
    for attr in ("src", "data-src"):
        value = (img.get(attr) or "").strip()
        if value and not value.startswith("data:"):
            return value
    srcset = (img.get("srcset") or "").strip()
    return srcset.split()[0] if srcset else None


def parse_figure(fig: etree._Element, page_url: str, base_url: str | None) -> dict[str, Any] | None:
    """One figure as {src, alt, caption, credit}; None when it holds no image."""
    imgs = _IMGS(fig)
    if not imgs:
        return None
    img = imgs[0]
    src = _src(img)
    credit_el = _CREDITS(fig)
    caption_el = _CAPTION_TEXTS(fig)
    credit = node_text(credit_el[0]) if credit_el else ""
    if caption_el:
        caption = node_text(caption_el[0])
    else:
        figcaption = _FIGCAPTIONS(fig)
        caption = node_text(figcaption[0]) if figcaption else ""
        if credit and caption.endswith(credit):
            caption = caption[: -len(credit)]
    caption_text, inline_credit = split_credit(inline_text(caption))
    return {
        "src": image_url(src, page_url, base_url) if src else None,
        "alt": clean_inline(img.get("alt")),
        "caption": caption_text,
        "credit": clean_inline(credit) or inline_credit,
    }
