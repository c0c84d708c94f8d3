"""Sanitising for everything that leaves through a feed or the index page.

Page content is hostile until proven otherwise: feed readers render it as HTML, so markup is
cleaned with nh3 (an allow-list), plain text loses any markup, and characters XML cannot carry
are dropped (lxml refuses them and a feed must stay well-formed).
"""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin, urlsplit

import nh3

from aaltowatch.core.text import BIDI_CONTROLS
from aaltowatch.core.urls import PUBLIC_ORIGIN

ALLOWED_TAGS = {
    "p", "br", "a", "ul", "ol", "li", "strong", "em", "b", "i", "h2", "h3", "h4",
    "blockquote", "ins", "del", "mark", "code", "pre", "figure", "figcaption", "img",
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt"},
    "th": {"colspan", "rowspan", "scope"},
    "td": {"colspan", "rowspan"},
}
URL_SCHEMES = {"http", "https", "mailto"}
# Dropped together with everything inside them (nh3 would otherwise keep their text).
DROPPED_WITH_CONTENT = {
    "script", "style", "iframe", "noscript", "object", "embed", "svg", "math", "template",
    "textarea", "title", "xmp", "noembed", "noframes", "select",
}  # fmt: skip

# XML 1.0 forbids C0 controls except tab/LF/CR, surrogates and U+FFFE/U+FFFF; C1 controls are
# legal but never meaningful in page text and confuse readers.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")
_MAX_UNWRAP = 8


def strip_invalid_chars(text: str) -> str:
    """Drop characters an XML document cannot contain, and bidi controls (which could make a
    title or category read differently from what it is) from text archived before they were
    cleaned at extraction."""
    return _BIDI.sub("", _INVALID_XML.sub("", text))


def clean_html(fragment: str | None) -> str:
    """Allow-listed HTML: no scripts, event handlers, styles, frames or non-http(s) URLs."""
    if not fragment:
        return ""
    cleaned = nh3.clean(
        strip_invalid_chars(fragment),
        tags=ALLOWED_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        url_relative=("rewrite_with_base", PUBLIC_ORIGIN + "/"),
    )
    return strip_invalid_chars(cleaned).strip()


_START_TAG = re.compile(r"<([a-zA-Z][a-zA-Z0-9]*)\b([^<>]*)>")


def _unclosed_as_text(text: str) -> str:
    """A start tag of an element dropped with its content (style, svg, math...) that is never
    closed is literal text in a title ("HTML <style> and CSS basics"), not an element: shown
    with lookalike brackets, it can neither swallow the rest of the text nor become markup."""
    lowered = text.lower()

    def literal(match: re.Match[str]) -> str:
        name = match.group(1).lower()
        if name not in DROPPED_WITH_CONTENT or f"</{name}" in lowered[match.end() :]:
            return match.group(0)
        return f"\u2039{match.group(1)}{match.group(2)}\u203a"

    return _START_TAG.sub(literal, text)


def clean_text(text: str | None) -> str:
    """Plain text with every tag removed, even ones hidden behind layers of entity escaping.

    Feed readers often render titles and descriptions as HTML, so `&lt;script&gt;` in a page is
    as dangerous as `<script>`: unwrap until stripping changes nothing, then drop brackets if
    the text still has not settled.
    """
    if not text:
        return ""
    current = strip_invalid_chars(text)
    for _ in range(_MAX_UNWRAP):
        current = _unclosed_as_text(current)
        stripped = html.unescape(
            nh3.clean(
                current, tags=set(), clean_content_tags=DROPPED_WITH_CONTENT, strip_comments=True
            )
        )
        stripped = strip_invalid_chars(stripped)
        if stripped == current:
            return current.strip()
        current = stripped
    return current.replace("<", "").replace(">", "").strip()


def safe_url(url: str | None, base: str = PUBLIC_ORIGIN) -> str | None:
    """An absolute http(s) URL, or None: a link must never run code."""
    if not url:
        return None
    absolute = urljoin(base + "/", strip_invalid_chars(url).strip())
    parts = urlsplit(absolute)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    if any(c in absolute for c in " \"'<>\\`"):
        return None
    return absolute
