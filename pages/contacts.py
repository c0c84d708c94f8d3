"""Contact people from the "Further information" block and from profile cards.

The site writes contacts as free text in several per-language house styles (see the snapshot
README), so each entry is split into name/title/organisation/phone/email by its shape.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from aaltowatch.core.text import clean_inline, inline_text
from pages.dom import INVISIBLE_TAGS, node_text, tag_of

LABEL_RE = re.compile(
    r"^(further information|more information|additional information|contact information|"
    r"contacts?|lisätietoja|lisätiedot|yhteystiedot|mer information|ytterligare information|"
    r"kontakt(?:uppgifter)?)\s*:?$",
    re.IGNORECASE,
)
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE_RE = re.compile(
    r"(?:\b(?:tel|puh|tfn|phone|mobile|gsm)\.?:?\s*)(?P<num>\+?\d[\d\s()/.-]*\d)|(?P<bare>\+\d[\d\s-]{6,}\d)",
    re.IGNORECASE,
)
_BULLET_RE = re.compile(r"^\s*[-–—•*]\s*")
# Compiled once: compiling an expression costs about as much as running it on a contact block.
_HREFS = etree.XPath("descendant::a/@href", smart_strings=False)
_ITEMS = etree.XPath("descendant::li")
_PARAGRAPHS = etree.XPath("descendant::p")
_WITH_CLASS = etree.XPath("descendant::*[contains(@class, $hint)]")


def _contact(name=None, title=None, organisation=None, email=None, phone=None) -> dict[str, Any]:
    return {
        "name": clean_inline(name),
        "title": clean_inline(title),
        "organisation": clean_inline(organisation),
        "email": clean_inline(email),
        "phone": clean_inline(phone),
    }


def _split_name_title(first: str) -> tuple[str, str | None]:
    """Swedish style "utvecklingsdirektör Sirkku Linna": lower-case title, then the name."""
    words = first.split()
    if len(words) > 1 and words[0][:1].islower():
        cut = len(words)
        while cut > 0 and words[cut - 1][:1].isupper():
            cut -= 1
        if 0 < cut < len(words):
            return " ".join(words[cut:]), " ".join(words[:cut])
    return first, None


def parse_entry(text: str, name: str | None = None) -> dict[str, Any] | None:
    """One person from one line of text, e.g. "Name, Title, Organisation, tel. +358 …, email"."""
    text = _BULLET_RE.sub("", inline_text(text))
    email_match = _EMAIL_RE.search(text)
    email = email_match.group(0) if email_match else None
    text = _EMAIL_RE.sub("", text)
    phone_match = _PHONE_RE.search(text)
    phone = None
    if phone_match:
        phone = phone_match.group("num") or phone_match.group("bare")
        text = text[: phone_match.start()] + text[phone_match.end() :]
    parts = [p.strip(" .;") for p in text.split(",")]
    parts = [p for p in parts if p]
    organisation = None
    if name is None:
        if not parts:
            return _contact(email=email, phone=phone) if email or phone else None
        first = parts.pop(0)
        if ":" in first:
            organisation, first = (s.strip() for s in first.split(":", 1))
        name, title = _split_name_title(first)
        if title is None and parts:
            title = parts.pop(0)
    else:
        title = parts.pop(0) if parts else None
    if organisation is None and parts:
        organisation = ", ".join(parts)
    return _contact(name, title, organisation, email, phone)


def _lines(el: etree._Element) -> list[str]:
    """Text lines of an element, split at <br>."""
    parts: list[str] = []

    def walk(node: etree._Element) -> None:
        tag = tag_of(node)
        if tag == "br":
            parts.append("\n")
        elif tag and tag not in INVISIBLE_TAGS:
            parts.append(node.text or "")
            for child in node:
                walk(child)
        if node is not el:
            parts.append(node.tail or "")

    walk(el)
    lines = (inline_text(line) for line in "".join(parts).split("\n"))
    return [line for line in lines if line]


def _mailto(el: etree._Element) -> str | None:
    for href in _HREFS(el):
        if href.lower().startswith("mailto:"):
            return href[7:].split("?")[0]
    return None


def _from_paragraph(p: etree._Element) -> list[dict[str, Any]]:
    strong = p.find(".//strong")
    if strong is None:
        strong = p.find(".//b")
    lines = _lines(p)
    if not lines:
        return []
    strong_text = node_text(strong) if strong is not None else ""
    if strong_text and lines[0] == strong_text:
        entry = parse_entry(", ".join(lines[1:]), name=strong_text)
        return [entry] if entry else []
    out = []
    for line in lines:
        entry = parse_entry(line)
        if entry and entry["name"]:
            out.append(entry)
    return out


def parse_contact_block(content: etree._Element) -> list[dict[str, Any]]:
    """People in a further-information block: one per <li>, <p> or <br>-separated line."""
    items = _ITEMS(content)
    if items:
        entries = [parse_entry(node_text(li)) for li in items]
        for entry, li in zip(entries, items, strict=True):
            if entry and not entry["email"]:
                entry["email"] = _mailto(li)
        return [e for e in entries if e and e["name"]]
    paragraphs = _PARAGRAPHS(content) or [content]
    out: list[dict[str, Any]] = []
    for p in paragraphs:
        out.extend(_from_paragraph(p))
    return out


def parse_profile_card(card: etree._Element) -> dict[str, Any] | None:
    """A profile card: name link, title, optional e-mail and phone; no organisation."""

    def text_of(hint: str) -> str | None:
        found = _WITH_CLASS(card, hint=hint)
        return node_text(found[0]) if found else None

    name = text_of("name-link") or text_of("__name")
    if not name:
        return None
    email = text_of("__email") or _mailto(card)
    phone = text_of("__phone")
    if not phone:
        tel = [h for h in _HREFS(card) if h.lower().startswith("tel:")]
        phone = tel[0][4:] if tel else None
    return _contact(name, text_of("__title"), None, email, phone)


def _is_contact_link(href: str) -> bool:
    return href.lower().startswith(("mailto:", "tel:"))


def parse_card_list(box: etree._Element) -> list[dict[str, Any]]:
    """Drifted profile cards: one person per name link, with its title/e-mail/phone lines."""
    out: list[dict[str, Any]] = []
    for link in box.iter("a"):
        if _is_contact_link(link.get("href") or "") or not node_text(link):
            continue
        unit = link
        while unit.getparent() is not None and unit is not box:
            names = [
                a for a in unit.getparent().iter("a") if not _is_contact_link(a.get("href") or "")
            ]
            if len(names) > 1 or unit.getparent() is box.getparent():
                break
            unit = unit.getparent()
        lines = [inline_text(t) for t in unit.itertext() if inline_text(t)]
        name = node_text(link)
        rest = [line for line in lines if line != name]
        email = next((line for line in rest if _EMAIL_RE.fullmatch(line)), None) or _mailto(unit)
        phone = next((line for line in rest if re.fullmatch(r"\+?[\d\s()-]{6,}", line)), None)
        title = next((line for line in rest if line not in (email, phone)), None)
        out.append(_contact(name, title, None, email, phone))
    return out
