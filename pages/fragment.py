"""Article fragment -> clean text and sanitised HTML (BeautifulSoup on the small fragment only)."""

from __future__ import annotations

import nh3
from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment, Declaration, Doctype, PageElement, ProcessingInstruction

from aaltowatch.core.text import inline_text
from pages.dom import BLOCK_TAGS, INVISIBLE_TAGS
from pages.links import image_url, public_url

_BLOCK_MARK = "aw-block"
_NOT_TEXT = (Comment, Declaration, Doctype, ProcessingInstruction)
_DROP_TAGS = INVISIBLE_TAGS | {"figcaption"}


def _paragraphs(block: Tag) -> list[str]:
    """Text of one block: each block element is its own paragraph, <br> a line break."""
    paragraphs: list[str] = []
    buffer: list[str] = []

    def flush() -> None:
        if not buffer:
            return
        # Only <br> put newlines in the buffer; the empty lines between several are dropped.
        lines = (inline_text(line) for line in "".join(buffer).split("\n"))
        text = "\n".join(line for line in lines if line)
        if text:
            paragraphs.append(text)
        buffer.clear()

    # (node, closing): only block elements get a closing entry, nothing else acts on its end.
    stack: list[tuple[object, bool]] = [(block, False)]
    while stack:
        node, closing = stack.pop()
        if closing:
            flush()
        elif isinstance(node, NavigableString):
            if not isinstance(node, _NOT_TEXT):
                buffer.append(node.replace("\n", " "))
        elif isinstance(node, Tag):
            name = node.name.lower()
            if name == "br":
                buffer.append("\n")
                continue
            if name in BLOCK_TAGS:
                flush()
                stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.contents))
    flush()
    return paragraphs


def _prepare(soup: BeautifulSoup, page_url: str, base_url: str | None) -> list[Tag]:
    """The outermost blocks, in order, after one walk over the fragment (not a find_all per task).

    The walk drops script/style/noscript/template and captions, makes link and image URLs
    public and absolute, and never enters what it dropped.
    """
    blocks: list[Tag] = []
    stack: list[tuple[PageElement, bool]] = [(child, False) for child in reversed(soup.contents)]
    while stack:
        node, in_block = stack.pop()
        if not isinstance(node, Tag):
            continue
        name = node.name
        if name in _DROP_TAGS:
            node.decompose()
            continue
        if name == "a" and node.get("href") is not None:
            node["href"] = public_url(str(node["href"]), page_url, base_url, keep_fragment=True)
        elif name == "img" and node.get("src") is not None:
            node["src"] = image_url(str(node["src"]), page_url, base_url)
        elif name == _BLOCK_MARK and not in_block:
            blocks.append(node)
            in_block = True
        stack.extend((child, in_block) for child in reversed(node.contents))
    return blocks


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
    paragraphs: list[str] = []
    html_parts: list[str] = []
    for block in _prepare(soup, page_url, base_url):
        paragraphs.extend(_paragraphs(block))
        html_parts.append("".join(str(child) for child in block.contents))
    body_html = nh3.clean("\n".join(html_parts), clean_content_tags=set(INVISIBLE_TAGS)).strip()
    return "\n\n".join(paragraphs), body_html
