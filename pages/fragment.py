"""Article fragment -> clean text and sanitised HTML (BeautifulSoup on the small fragment only)."""

from __future__ import annotations

import re

import nh3
from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

from pages.dom import BLOCK_TAGS, INVISIBLE_TAGS
from pages.links import image_url, public_url
from pages.text import clean_text

_BLOCK_MARK = "aw-block"
_NOT_TEXT = (Comment, Declaration, Doctype, ProcessingInstruction)
_DROP_TAGS = [*INVISIBLE_TAGS, "figcaption"]
_NEWLINE_RE = re.compile(r"\n+")


def _paragraphs(block: Tag) -> list[str]:
    """Text of one block: each block element is its own paragraph, <br> a line break."""
    paragraphs: list[str] = []
    buffer: list[str] = []

    def flush() -> None:
        lines = (clean_text(line) for line in _NEWLINE_RE.split("".join(buffer)))
        text = "\n".join(line for line in lines if line)
        if text:
            paragraphs.append(text)
        buffer.clear()

    stack: list[tuple[object, bool]] = [(block, False)]
    while stack:
        node, closing = stack.pop()
        if isinstance(node, NavigableString):
            if not isinstance(node, _NOT_TEXT):
                buffer.append(str(node).replace("\n", " "))
            continue
        if not isinstance(node, Tag):
            continue
        name = node.name.lower()
        if name == "br":
            buffer.append("\n")
        elif name in BLOCK_TAGS:
            flush()
        if not closing and name != "br":
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.contents))
    flush()
    return paragraphs


def _absolutise(soup: BeautifulSoup, page_url: str, base_url: str | None) -> None:
    for link in soup.find_all("a", href=True):
        link["href"] = public_url(str(link["href"]), page_url, base_url, keep_fragment=True)
    for img in soup.find_all("img", src=True):
        img["src"] = image_url(str(img["src"]), page_url, base_url)


def render_blocks(blocks_html: list[str], page_url: str, base_url: str | None) -> tuple[str, str]:
    """(plain text, sanitised HTML) of article blocks given as HTML strings, in order.

    Paragraphs are separated by a blank line; script/style/noscript/template and figure
    captions are dropped; links become absolute public URLs; nh3 strips scripts, on*
    attributes and javascript: URLs from the HTML.
    """
    if not blocks_html:
        return "", ""
    wrapped = "".join(f"<{_BLOCK_MARK}>{html}</{_BLOCK_MARK}>" for html in blocks_html)
    soup = BeautifulSoup(f"<div>{wrapped}</div>", "lxml")
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    _absolutise(soup, page_url, base_url)
    paragraphs: list[str] = []
    html_parts: list[str] = []
    for block in soup.find_all(_BLOCK_MARK):
        if block.find_parent(_BLOCK_MARK) is not None:
            continue
        paragraphs.extend(_paragraphs(block))
        html_parts.append("".join(str(child) for child in block.contents))
    body_html = nh3.clean("\n".join(html_parts), clean_content_tags=set(INVISIBLE_TAGS)).strip()
    return "\n\n".join(paragraphs), body_html
