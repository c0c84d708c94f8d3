"""Soft 404s: an error page served with status 200 ("Page not found" under a content URL).

Read from the page's own signals, never from one site's exact text: the title or main heading
says the page was not found (in the site's languages, or a bare 404), and the page is built
like an error page (robots `noindex`, an error class on <body> or a container) or has none of
the article markup. A real article *about* errors still has its article markup and no error
template, so it is kept.
"""

from __future__ import annotations

import re

from lxml import etree
from parsel import Selector

from pages.dom import classes, meta_content, node_text

NOT_FOUND_RE = re.compile(
    r"\b(?:page\s+not\s+found|not\s+found|error\s*404|404"
    r"|sivua\s+ei\s+(?:löytynyt|löydy)|sidan\s+(?:hittades\s+inte|kunde\s+inte\s+hittas))\b",
    re.IGNORECASE,
)
# Class tokens of error templates (Drupal `path-error`, WordPress `error404`, `page-not-found`).
ERROR_CLASS_RE = re.compile(
    r"(?:^|[\s_-])(?:error|not-?found|404|error-?page|error404)(?:$|[\s_-])"
)
_TITLE = etree.XPath("string(/descendant::title)", smart_strings=False)
_H1 = etree.XPath("/descendant::h1[1]")
_TEMPLATE = etree.XPath("/descendant::body | /descendant::main | /descendant::main/div")


def _says_not_found(sel: Selector) -> bool:
    headings = (_TITLE(sel.root), node_text(next(iter(_H1(sel.root)), None)))
    return any(NOT_FOUND_RE.search(text or "") for text in headings)


def _error_template(sel: Selector) -> bool:
    robots = (meta_content(sel, "robots") or "").lower()
    if "noindex" in robots:
        return True
    return any(ERROR_CLASS_RE.search(classes(el)) for el in _TEMPLATE(sel.root))


def is_error_page(sel: Selector, *, has_article: bool) -> bool:
    """True for an error page: it says "not found" and is not built like an article."""
    return _says_not_found(sel) and (_error_template(sel) or not has_article)
