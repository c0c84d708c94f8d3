"""Whole-page parsing with parsel/lxml (fast) and small lxml helpers used by the page objects."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from lxml import etree
from parsel import Selector
from parsel.csstranslator import HTMLTranslator

from aaltowatch.core.errors import ExtractionError
from aaltowatch.core.text import inline_text

INVISIBLE_TAGS = frozenset({"script", "style", "noscript", "template"})
BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
        "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip


def parse_html(text: str) -> Selector:
    """Parse a whole page; lxml recovers from broken markup, NULs and lone surrogates go first."""
    if "\x00" in text:  # a scan for NUL is far cheaper than replace() on a whole page
        text = text.replace("\x00", "")
    text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if not text.strip():
        raise ExtractionError("empty document")
    try:
        return Selector(text=text, type="html")
    except (ValueError, etree.LxmlError) as exc:
        raise ExtractionError(f"unparsable HTML: {exc}") from exc


def tag_of(el: etree._Element) -> str:
    """Lower-case tag name; comments and processing instructions have none."""
    return el.tag.lower() if isinstance(el.tag, str) else ""


def node_text(el: etree._Element | None) -> str:
    """Visible text of an element: block elements and <br> separate words, whitespace collapsed."""
    if el is None:
        return ""
    parts: list[str] = []
    stack: list[tuple[etree._Element, bool]] = [(el, False)]
    while stack:
        node, closing = stack.pop()
        if closing:
            if tag_of(node) in BLOCK_TAGS:
                parts.append(" ")
            if node is not el and node.tail:
                parts.append(node.tail)
            continue
        tag = tag_of(node)
        if tag in BLOCK_TAGS:
            parts.append(" ")
        stack.append((node, True))
        if not tag or tag in INVISIBLE_TAGS:
            continue
        if node.text:
            parts.append(node.text)
        stack.extend((child, False) for child in reversed(node))
    return inline_text("".join(parts))


def classes(el: etree._Element) -> str:
    """The element's class attribute, lower-cased ('' when absent)."""
    value = el.get("class") if isinstance(el.tag, str) else None
    return (value or "").lower()


def has_ancestor(
    el: etree._Element,
    tags: Iterable[str],
    hints: Iterable[str],
    stop: etree._Element | None = None,
) -> bool:
    """True if el or an ancestor (below stop) has one of the tags or a class containing a hint."""
    tags, hints = frozenset(tags), tuple(hints)
    node: etree._Element | None = el
    while node is not None and node is not stop:
        if tag_of(node) in tags:
            return True
        cls = classes(node)
        if cls and any(hint in cls for hint in hints):
            return True
        node = node.getparent()
    return False


_CSS = HTMLTranslator()
_META = etree.XPath("/descendant::meta[@property=$n or @name=$n]/@content", smart_strings=False)


@cache
def compiled_css(query: str, prefix: str = "descendant-or-self::") -> etree.XPath:
    """A CSS query translated as parsel does and compiled once (compiling costs like running).

    The prefix "descendant::" matches below the context element only, as in `.ancestor query`.
    """
    return etree.XPath(_CSS.css_to_xpath(query, prefix))


def first(sel: Selector, query: str) -> etree._Element | None:
    """First element matching a CSS query, as an lxml element."""
    found = compiled_css(query)(sel.root)
    return found[0] if found else None


@cache
def _everywhere(tag: str) -> etree.XPath:
    return etree.XPath(f"/descendant::{tag}")


def first_of(root: etree._Element, *tags: str) -> etree._Element | None:
    """First element of the first tag present in the document, like `//a` or else `//b`.

    The whole document: broken pages can leave elements beside the root element.
    """
    for tag in tags:
        found = _everywhere(tag)(root)
        if found:
            return found[0]
    return None


def meta_content(sel: Selector, *names: str) -> str | None:
    """First non-empty <meta name|property=...> content among names."""
    for name in names:
        for value in _META(sel.root, n=name):
            if value.strip():
                return value
    return None
