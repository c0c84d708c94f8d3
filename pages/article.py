"""News and collaboration pages -> PageItem.

Each field is taken from metadata where that is authoritative (canonical URL, translations),
then from the site's selectors, then from a generic fallback, and `item.extraction` records
which one answered so health checks notice when the site's markup drifts.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import MISSING
from typing import TYPE_CHECKING, Any

from lxml import etree
from parsel import Selector

from aaltowatch.core.errors import ExtractionError
from aaltowatch.core.fields import MAX_URL_CHARS, Shape, field, fields_of, item_class
from aaltowatch.core.items import ItemBase, Source
from aaltowatch.core.text import clean_inline, inline_text, iso_utc
from aaltowatch.core.urls import absolute, canonical_url, content_kind, has_unsafe_chars, is_on_site
from pages.contacts import LABEL_RE, parse_card_list, parse_contact_block, parse_profile_card
from pages.decode import decode_html
from pages.dom import (
    compiled_css,
    first,
    first_of,
    has_ancestor,
    meta_content,
    node_text,
    parse_html,
    tag_of,
)
from pages.errorpage import is_error_page
from pages.fragment import render_blocks
from pages.images import parse_figure
from pages.links import site_base

ARTICLE = "div.aalto-article"
_TITLE_SUFFIX_RE = re.compile(
    r"\s*[|–—-]\s*Aalto(?:\s+University|-yliopisto|-universitetet)\s*$", re.IGNORECASE
)
_PUBLISHED = ("published", "julkaistu", "publicerat", "publicerad")
_UPDATED = ("updated", "päivitetty", "uppdaterad", "last modified", "modified")
# Never body text: page chrome, teasers, cards, contacts, figures, info items.
_CHROME_TAGS = ("header", "nav", "footer", "aside", "form", "figure", "figcaption", "button")
_CHROME_HINTS = (
    "breadcrumb", "related", "share", "further-information", "contact", "lift-up", "liftup",
    "profile", "news-card", "teaser", "listing", "pager", "__info", "ingress", "caption",
    "credit", "cookie", "menu", "sidebar", "visually-hidden",
)  # fmt: skip
_HEADING_TAGS = ("h2", "h3", "h4", "h5", "h6")
_CONTENT_TAGS = ("p", "ul", "ol", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table")

# Compiled once: compiling costs about as much as evaluating. Whole-page searches are written
# `/descendant::x[...]` rather than `//x[...]`: the same nodes, but libxml2 evaluates the latter
# one child list at a time, several times slower.
_LINKS = etree.XPath("/descendant::link")  # one scan for canonical and alternates
_TITLE_TEXT = etree.XPath("string(/descendant::title)", smart_strings=False)
_H1_SCOPES = tuple(
    etree.XPath(query)
    for query in (
        "/descendant::main/descendant::h1",
        "/descendant::article/descendant::h1",
        "/descendant::h1",
    )
)
_GENERIC_LEAD = etree.XPath(
    "/descendant::main/descendant::*[contains(@class, 'ingress') or contains(@class, 'lede')]"
)
# A class token test is written `contains(@class, t) and contains(<padded class>, ' t ')`, as
# cssselect does: the plain substring test is cheap and rules out almost every element.
_UGC_BLOCKS = etree.XPath(
    "descendant::div[contains(@class, 'aalto-user-generated-content')"
    " and contains(concat(' ', normalize-space(@class), ' '), ' aalto-user-generated-content ')]"
)
_FIRST_CHILD = etree.XPath("*[1]")
_INFO_ITEMS = etree.XPath("descendant::*[contains(@class, 'aalto-article__info-item')]")
_INFO_TITLE = etree.XPath("descendant::*[contains(@class, 'aalto-article__info-title')]")
_DATETIME = etree.XPath("descendant::time/@datetime", smart_strings=False)
_CONTACT_BLOCKS = etree.XPath(
    "descendant::*[contains(@class, 'further-information__content')"
    " or contains(@class, 'aalto-profile-card')"
    " and contains(concat(' ', normalize-space(@class), ' '), ' aalto-profile-card ')]"
)
_LIST_OR_PARAGRAPH = etree.XPath("descendant::li | descendant::p")
_FIGURES = etree.XPath(
    "descendant::*[contains(@class, 'aalto-article__hero')]/descendant::figure"
    " | descendant::figure[contains(@class, 'aalto-figure--hero')]"
    " | descendant::*[contains(@class, 'paragraph--type--image')]/descendant::figure"
)


def _reject_non_html(body: bytes | str, content_type: str | None) -> None:
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype and "html" not in ctype and "xml" not in ctype and not ctype.startswith("text/"):
        raise ExtractionError(f"not an HTML page (Content-Type {ctype})")
    head = (
        body[:1024].lstrip()
        if isinstance(body, bytes)
        else body[:1024].lstrip().encode("utf-8", "surrogatepass")
    )
    if head.startswith((b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04")):
        raise ExtractionError("not an HTML page (binary document)")


def _item_url(links: list[etree._Element], url: str, base_url: str | None) -> str:
    """Canonical public URL: an on-site content rel=canonical, else the fetched URL mapped.

    A canonical naming another language or section (a Finnish page pointing at its English
    twin) is not trusted: the two would overwrite each other's history. Nor is one from a page
    fetched off the site (it could claim any of our pages), or one holding control or bidi
    characters (a hostile key that would write escape sequences to terminals).
    """
    base = site_base(url, base_url)
    fetched = canonical_url(url, base)
    fetched_kind = content_kind(fetched)
    if not is_on_site(url, base):
        return fetched
    for link in links:
        href = link.get("href")
        if href is None or link.get("rel") != "canonical" or has_unsafe_chars(href):
            continue
        try:
            target = absolute(href, url)
        except ValueError:
            continue
        if is_on_site(target, base):
            mapped = canonical_url(target, base)
            kind = content_kind(mapped)
            if kind and (fetched_kind is None or kind == fetched_kind):
                return mapped
    return fetched


def _in_article(sel: Selector, article: etree._Element | None, query: str) -> etree._Element | None:
    """First match of CSS `div.aalto-article query`, searching the first article div first.

    Every match inside the first article div comes before any other in document order, so the
    whole page is only searched when that div has none (pages with several article divs).
    """
    if article is None:
        return None
    found = compiled_css(query, "descendant::")(article)
    return found[0] if found else first(sel, f"{ARTICLE} {query}")


def _title(sel: Selector, article: etree._Element | None) -> tuple[str | None, str]:
    text = node_text(_in_article(sel, article, ".aalto-article__top h1"))
    if text:
        return text, Source.SELECTOR
    for scope in _H1_SCOPES:
        for el in scope(sel.root):
            if not has_ancestor(el, _CHROME_TAGS, ()):
                text = node_text(el)
                if text:
                    return text, Source.FALLBACK
    raw = meta_content(sel, "og:title", "twitter:title") or _TITLE_TEXT(sel.root)
    title = inline_text(_TITLE_SUFFIX_RE.sub("", inline_text(raw)))
    return (title, Source.META) if title else (None, Source.MISSING)


def _lead(sel: Selector, article: etree._Element | None) -> tuple[str | None, str]:
    """Lead candidate: the ingress, a generic ingress/lede block, else the meta description."""
    ingress = _in_article(sel, article, ".aalto-article__ingress")
    if ingress is not None:
        text = node_text(ingress)
        return (text, Source.SELECTOR) if text else (None, Source.MISSING)
    generic = _GENERIC_LEAD(sel.root)
    text = node_text(generic[0]) if generic else ""
    if text:
        return text, Source.FALLBACK
    meta = inline_text(meta_content(sel, "description", "og:description"))
    return (meta, Source.META) if meta else (None, Source.MISSING)


def _selector_blocks(article: etree._Element) -> list[etree._Element]:
    blocks = [
        el
        for el in _UGC_BLOCKS(article)
        if not has_ancestor(el, _CHROME_TAGS, _CHROME_HINTS, stop=article)
    ]
    return [el for el in blocks if not any(o is not el and o in el.iterancestors() for o in blocks)]


def _is_contact_section(el: etree._Element, stop: etree._Element) -> bool:
    """True inside a block introduced by a "Further information:" style label."""
    node: etree._Element | None = el
    while node is not None and node is not stop:
        heading = _FIRST_CHILD(node)
        if heading and LABEL_RE.match(node_text(heading[0])):
            return True
        node = node.getparent()
    return False


def _fallback_blocks(sel: Selector, lead: str | None) -> list[etree._Element]:
    """Generic body: the paragraphs of the container holding most of the <p> text in <main>."""
    root = first_of(sel.root, "main", "article", "body")
    if root is None:
        return []
    lead_text = inline_text(lead)

    def qualifies(el: etree._Element) -> bool:
        return not has_ancestor(el, _CHROME_TAGS, _CHROME_HINTS, stop=root) and not (
            _is_contact_section(el, root)
        )

    paragraphs = [
        p for p in root.iter("p") if qualifies(p) and node_text(p) and node_text(p) != lead_text
    ]
    if not paragraphs:
        return []
    weight: dict[etree._Element, int] = {}
    for p in paragraphs:
        size = len(node_text(p))
        for anc in p.iterancestors():
            weight[anc] = weight.get(anc, 0) + size
            if anc is root:
                break
    total = sum(len(node_text(p)) for p in paragraphs)
    container = root
    for p in paragraphs:
        for anc in p.iterancestors():
            if weight.get(anc, 0) >= 0.95 * total and _depth(anc) > _depth(container):
                container = anc
            if anc is root:
                break
    chosen: list[etree._Element] = []
    taken: set[etree._Element] = set()  # a set: a huge page must not cost chosen x ancestors
    for el in container.iter(*_CONTENT_TAGS):
        if any(a in taken for a in el.iterancestors()) or not qualifies(el):
            continue
        text = node_text(el)
        if not text or text == lead_text or LABEL_RE.match(text):
            continue
        if tag_of(el) in _HEADING_TAGS:
            parent = el.getparent()
            if parent is None or parent.find("p") is None:
                continue
        chosen.append(el)
        taken.add(el)
    return chosen


def _depth(el: etree._Element) -> int:
    return sum(1 for _ in el.iterancestors())


def _body(
    sel: Selector, article: etree._Element | None, lead: str | None, url: str, base_url: str | None
) -> tuple[str, str, str]:
    """(text, html, source) of the article body."""
    blocks = _selector_blocks(article) if article is not None else []
    if blocks:
        inner = [
            (el.text or "") + "".join(etree.tostring(c, encoding="unicode") for c in el)
            for el in blocks
        ]
        text, html = render_blocks(inner, url, base_url)
        return text, html, Source.SELECTOR
    fallback = _fallback_blocks(sel, lead)
    text, html = render_blocks(
        [etree.tostring(el, encoding="unicode", with_tail=False) for el in fallback], url, base_url
    )
    return text, html, Source.FALLBACK if text else Source.MISSING


def _dates(sel: Selector, article: etree._Element | None) -> dict[str, tuple[str | None, str]]:
    """Published/Updated from the labelled info items, by label (their order varies)."""
    found: dict[str, tuple[str | None, str]] = {}

    def take(label: str, stamp: str | None, source: str) -> None:
        label = inline_text(label).lower().rstrip(":").strip()
        value = iso_utc(stamp)
        if not value:
            return
        for key, words in (("published", _PUBLISHED), ("updated", _UPDATED)):
            if key not in found and any(label.startswith(w) for w in words):
                found[key] = (value, source)

    if article is not None:
        for item in _INFO_ITEMS(article):
            label = _INFO_TITLE(item)
            stamp = _DATETIME(item) if label else None
            if label and stamp:
                take(node_text(label[0]), stamp[0], Source.SELECTOR)
    root = first_of(sel.root, "main", "body") if len(found) < 2 else None
    for time in root.iter("time") if root is not None else ():
        if has_ancestor(time, _CHROME_TAGS, ("related", "news-card", "teaser", "listing", "card")):
            continue
        holder = time.getparent()
        for _ in range(3):
            if holder is None:
                break
            label = node_text(holder).replace(node_text(time), "")
            if inline_text(label):
                take(label, time.get("datetime"), Source.FALLBACK)
                break
            holder = holder.getparent()
    metas = {
        "published": ("article:published_time", "datePublished"),
        "updated": ("og:updated_time", "article:modified_time", "dateModified"),
    }
    for key, names in metas.items():
        if key not in found:
            stamp = iso_utc(meta_content(sel, *names))
            found[key] = (stamp, Source.META) if stamp else (None, Source.MISSING)
    return found


def _contacts(sel: Selector, article: etree._Element | None) -> list[dict[str, Any]]:
    scope = article if article is not None else first_of(sel.root, "main", "body")
    if scope is None:
        return []
    out: list[dict[str, Any]] = []
    blocks = _CONTACT_BLOCKS(scope)
    for block in blocks:
        if "profile-card" in (block.get("class") or ""):
            card = parse_profile_card(block)
            out.extend([card] if card else [])
        else:
            out.extend(parse_contact_block(block))
    if not blocks:
        out.extend(_labelled_contacts(scope))
    return out


def _labelled_contacts(scope: etree._Element) -> list[dict[str, Any]]:
    """Drifted markup: the siblings after a "Further information:" heading."""
    out: list[dict[str, Any]] = []
    for label in scope.iter("h2", "h3", "h4", "strong", "b"):
        if not LABEL_RE.match(node_text(label)):
            continue
        for sibling in label.itersiblings():
            if tag_of(sibling) in ("h2", "h3", "h4"):
                break
            if _LIST_OR_PARAGRAPH(sibling) or tag_of(sibling) == "p":
                out.extend(parse_contact_block(sibling))
            else:
                out.extend(parse_card_list(sibling))
    return out


def _images(
    sel: Selector, article: etree._Element | None, url: str, base_url: str | None
) -> list[dict[str, Any]]:
    if article is not None:
        figures = _FIGURES(article)
    else:
        root = first_of(sel.root, "main", "body")
        figures = [
            fig
            for fig in (root.iter("figure") if root is not None else ())
            if not has_ancestor(
                fig.getparent(), ("header", "nav", "footer", "aside"), _CHROME_HINTS
            )
        ]
    images = [parse_figure(fig, url, base_url) for fig in figures]
    return [image for image in images if image]


def _translations(
    links: list[etree._Element], url: str, base_url: str | None, lang: str
) -> dict[str, str]:
    out: dict[str, str] = {}
    base = site_base(url, base_url)
    for link in links:
        href, hreflang = link.get("href"), link.get("hreflang")
        if href is None or hreflang is None or link.get("rel") != "alternate":
            continue
        code = hreflang.strip().lower().split("-")[0]
        if not code or code == lang or code == "x" or code in out:
            continue
        try:
            out[code] = canonical_url(absolute(href, url), base)
        except ValueError:
            continue
    return out


class ArticlePage:
    """A news or collaboration page, read once. Each `@field` method is one field of the item,
    declared here only (web-poet's habit): its name is the item key, its decorator says what
    the rest of the program does with it (aaltowatch.core.fields), its body extracts it. A
    field whose facts include `extracted` returns (value, Source).

    The limits are far above anything a real page of the site carries (a long news title is
    ~150 characters, a lead ~600, a body ~30,000 with ~60,000 of HTML, a page a dozen
    categories and contacts): they only stop a broken or hostile page from carrying megabytes
    into every feed, page and export. A cut value ends in an ellipsis, and the version lists
    the field.
    """

    def __init__(
        self,
        body: bytes | str,
        url: str,
        *,
        content_type: str | None = None,
        base_url: str | None = None,
    ) -> None:
        _reject_non_html(body, content_type)
        self.raw = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
        self.sel = parse_html(
            decode_html(self.raw, content_type) if isinstance(body, bytes) else body
        )
        self.fetched, self.base_url = url, base_url
        self.links = _LINKS(self.sel.root)
        self.item_url = _item_url(self.links, url, base_url)
        kind_lang = content_kind(self.item_url)
        if kind_lang is None:
            raise ExtractionError(f"not a news or collaboration page: {self.item_url}")
        self.kind_lang = kind_lang
        self.article = first(self.sel, ARTICLE)
        self.titled = _title(self.sel, self.article)
        lead, lead_src = _lead(self.sel, self.article)
        self.text, self.html, self.body_src = _body(self.sel, self.article, lead, url, base_url)
        if lead_src == Source.META and lead and inline_text(lead.rstrip(".…")) in self.text:
            # Drupal fills a missing description with the start of the body: that is no lead.
            lead, lead_src = None, Source.MISSING
        self.led = (lead, lead_src)
        if self.titled[0] is None and not self.text:
            raise ExtractionError(f"no article found in {url}")
        self.dates = _dates(self.sel, self.article)

    @field(Shape.URL, exported=True, default=MISSING)
    def url(self) -> str:
        return self.item_url

    @field(exported=True, default=MISSING)
    def kind(self) -> str:
        return self.kind_lang[0]  # news | partnership

    @field(exported=True, default=MISSING)
    def lang(self) -> str:
        return self.kind_lang[1]  # en | fi | sv

    @field(Shape.INLINE, version=True, compared=True, hashed=True, duplicate=True, edited=True,
           diffed=True, viewed=True, exported=True, extracted=True, guarded=True, limit=1_000,
           doc="Title.")  # fmt: skip
    def title(self) -> tuple[str | None, str]:
        return clean_inline(self.titled[0]), self.titled[1]

    @field(Shape.INLINE, version=True, compared=True, hashed=True, duplicate=True, edited=True,
           diffed=True, viewed=True, exported=True, extracted=True, limit=5_000,
           doc="Lead paragraph.")  # fmt: skip
    def lead(self) -> tuple[str | None, str]:
        return clean_inline(self.led[0]), self.led[1]

    @field(Shape.BLOCK, version=True, compared=True, hashed=True, duplicate=True, edited=True,
           diffed=True, viewed=True, exported=True, extracted=True, guarded=True,
           limit=200_000, default="",
           doc="Plain-text body, paragraphs separated by a blank line.")  # fmt: skip
    def body(self) -> tuple[str, str]:
        return self.text, self.body_src

    @field(version=True, limit=400_000, default="", doc="Sanitised body HTML.")
    def body_html(self) -> str:
        return self.html

    @field(Shape.DATE, version=True, compared=True, hashed=True, duplicate=True, diffed=True,
           viewed=True, exported=True, extracted=True, label="Published:",
           doc="Publication time from the page (ISO 8601 UTC).")  # fmt: skip
    def published(self) -> tuple[str | None, str]:
        return self.dates["published"]

    @field(Shape.DATE, version=True, compared=True, viewed=True, exported=True, extracted=True,
           doc="Update time from the page (ISO 8601 UTC).")  # fmt: skip
    def updated(self) -> tuple[str | None, str]:
        return self.dates["updated"]

    @field(Shape.NAMES, version=True, compared=True, hashed=True, diffed=True, viewed=True,
           exported=True, limit=200, most=100, label="Category:", default=list,
           doc="JSON list of categories (from listings and the site feed).")  # fmt: skip
    def categories(self) -> list[str]:
        return []  # an article does not name its categories: its teasers do (spiders)

    @field(Shape.RECORDS, version=True, compared=True, hashed=True, duplicate=True, edited=True,
           diffed=True, exported=True, limit=1_000, most=100, label="Contact:", default=list,
           doc="JSON list of {name, title, organisation, email, phone}.")  # fmt: skip
    def contacts(self) -> list[dict[str, Any]]:
        return _contacts(self.sel, self.article)

    # Image src carries cache-busters (itok) that rotate without any content change.
    @field(Shape.RECORDS, version=True, compared=True, hashed=True, edited=True, diffed=True,
           exported=True, keys=("alt", "caption", "credit"), limit=2_000, most=200,
           label="Image:", default=list,
           doc="JSON list of {src, alt, caption, credit}.")  # fmt: skip
    def images(self) -> list[dict[str, Any]]:
        return _images(self.sel, self.article, self.fetched, self.base_url)

    @field(Shape.LINKS, version=True, compared=True, hashed=True, exported=True,
           limit=MAX_URL_CHARS, most=20, default=dict,
           doc="JSON object {lang: url}.")  # fmt: skip
    def translations(self) -> dict[str, str]:
        return _translations(self.links, self.fetched, self.base_url, self.kind_lang[1])

    @field(exported=True)
    def fetched_at(self) -> str | None:
        return None  # a version's is the moment it was observed: the spider stamps it

    @field(version=True, exported=True, default=200, doc="HTTP status of the fetch.")
    def http_status(self) -> int:
        return 200

    @field(version=True, exported=True, doc="sha256 of the raw response (responses.sha256).")
    def raw_sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    @field(Shape.NAMES, version=True, exported=True, default=list,
           doc="JSON list of the fields cut to their limit (core.fields) when stored.")  # fmt: skip
    def truncated(self) -> list[str]:
        return []  # pipeline.normalise names the fields it cuts

    def flags(self) -> list[str]:
        """Extraction notes for the pipeline (not fields: never stored as values)."""
        empty = [] if re.search(r"\w", self.text) else ["empty_body"]
        soft = ["soft_404"] if is_error_page(self.sel, has_article=self.article is not None) else []
        return empty + soft

    def to_item(self) -> PageItem:
        """The item: each field's value, and the source of each `extracted` one."""
        values: dict[str, Any] = {}
        extraction: dict[str, str] = {}
        for spec in FIELDS:
            value = getattr(self, spec.name)()
            if spec.extracted:
                value, extraction[spec.name] = value
            values[spec.name] = value
        return PageItem(
            **values, fetched_url=self.fetched, flags=self.flags(), extraction=extraction
        )


FIELDS = fields_of(ArticlePage)
if TYPE_CHECKING:
    PageItem = ItemBase
else:
    PageItem = item_class("PageItem", FIELDS, ItemBase, __name__)


def parse_article(
    body: bytes | str,
    url: str,
    *,
    content_type: str | None = None,
    base_url: str | None = None,
) -> PageItem:
    """Turn one fetched news or collaboration page into a PageItem keyed by its public URL."""
    return ArticlePage(body, url, content_type=content_type, base_url=base_url).to_item()
