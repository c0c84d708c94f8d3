"""Partner registry rules (pure): who a partnership page is about, and how news name them.

A partner is the organisation a partnership page is about: a city, a region, a university, a
company. Its pages in en/fi/sv are linked through their translations (hreflang) into one
partner. Its name comes, first match wins, from

1. the config: a `[[aaltowatch.partner]]` entry listing one of its pages under `pages`;
2. the page title, by the site's pattern "Aalto University and X: …" / "X and Aalto University"
   (fi "Aalto-yliopisto ja X", sv "Aalto-universitetet och X"; a subtitle after ":" or a dash
   is dropped);
3. the hub's link text for the page, by the same pattern, or as is when it is short.

Pages named by none of these (the hub itself, general pages) are about no single partner.

Mentions in news are matched with an FTS5 query built from every name and alias, each word
turned into a prefix by `stem` (see there). Inflections the rule misses go in the config as
aliases (`aliases = ["Uudenmaan", "Nyland"]`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aaltowatch.core.config import PartnerAlias
from aaltowatch.core.enums import PageStatus
from aaltowatch.core.text import clean_inline, words
from aaltowatch.core.urls import LANGS, canonical_url

UNIVERSITY = {"en": "Aalto University", "fi": "Aalto-yliopisto", "sv": "Aalto-universitetet"}
CONJUNCTION = {"en": "and", "fi": "ja", "sv": "och"}
SUBTITLE_RE = re.compile(r"\s*(?::|\s[–—-]\s).*$")
NAME_PATTERNS = tuple(
    re.compile(pattern.format(uni=re.escape(uni), conj=CONJUNCTION[lang]), re.IGNORECASE)
    for lang, uni in UNIVERSITY.items()
    for pattern in (r"^{uni}\s+{conj}\s+(?P<name>.+)$", r"^(?P<name>.+?)\s+{conj}\s+{uni}$")
)
MAX_NAME_WORDS = 6  # longer is a sentence, not a name
MAX_LINK_NAME_WORDS = 4  # a hub link text taken as is

VOWELS = frozenset("aeiouyäöå")
GRADATING = frozenset("kpt")  # consonants Finnish gradation changes: Helsinki -> Helsingin
MIN_STEM = 5  # shorter prefixes match unrelated words (Tur* -> turvallisuus)


@dataclass
class PartnerPage:
    page_id: int
    url: str
    lang: str
    name: str | None = None
    source: str | None = None  # config | title | hub_link


@dataclass
class Partner:
    id: int
    name: str
    names: dict[str, str]
    aliases: list[str]
    match: str
    first_seen: str
    last_seen: str
    status: str  # active | gone
    pages: list[PartnerPage] = field(default_factory=list)


def name_from_text(text: str | None) -> str | None:
    """The partner named by a title or link text of the site's pattern, else None."""
    text = clean_inline(text)
    if not text:
        return None
    head = SUBTITLE_RE.sub("", text)
    for pattern in NAME_PATTERNS:
        match = pattern.match(head)
        if match:
            name = re.sub(r"^the\s+", "", match.group("name").strip(" .,;"), flags=re.I)
            if name and len(words(name)) <= MAX_NAME_WORDS:
                return name
    return None


def name_from_link(texts: Sequence[str]) -> str | None:
    """A hub link text: the pattern first, else a short text that is a name by itself."""
    for text in texts:
        if name := name_from_text(text):
            return name
    for text in texts:
        short = clean_inline(text) or ""
        if short and ":" not in short and len(words(short)) <= MAX_LINK_NAME_WORDS:
            return short
    return None


def stem(word: str) -> str:
    """The prefix that matches a name word and its Finnish/Swedish inflected forms.

    - "-nen" words lose "nen" (Kauniainen -> Kauniai*: Kauniaisten, Kauniaisissa);
    - a short final vowel after k/p/t goes with that consonant, which gradation changes
      (Helsinki -> Helsin*: Helsingin, Helsingissä, and Helsingfors);
    - a final "i" after a consonant goes (Otaniemi -> Otaniem*: Otaniemessä);
    - anything else is its own prefix (Espoo*: Espoon, Espoossa; Vantaa*: Vantaan, Vantaalla;
      Esbo*: Esbo stads). Never `Vanta*`: a long vowel is kept whole.
    A candidate shorter than MIN_STEM letters is not used (Turku stays Turku*: add "Turun" as
    an alias).
    """
    w = word.lower()
    candidates = []
    if w.endswith("nen"):
        candidates.append(w[:-3])
    if len(w) >= 3 and w[-1] in VOWELS and w[-2] in GRADATING and w[-3] not in GRADATING:
        candidates.append(w[:-2])
    if len(w) >= 2 and w[-1] == "i" and w[-2] not in VOWELS:
        candidates.append(w[:-1])
    return next((c for c in candidates if len(c) >= MIN_STEM), w)


def match_query(terms: Iterable[str]) -> str:
    """FTS5 query: every term as a phrase whose last word is a prefix, OR-ed; '""' if none."""
    phrases: list[str] = []
    for term in terms:
        tokens = [t.lower() for t in words(term)]
        if not tokens:
            continue
        phrase = '"' + " ".join([*tokens[:-1], stem(tokens[-1])]) + '"*'
        if phrase not in phrases:
            phrases.append(phrase)
    return " OR ".join(phrases) or '""'


def _groups(pages: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Pages joined by their translation links (either direction), smallest page id first."""
    by_url = {p["url"]: p for p in pages}
    parent = {p["url"]: p["url"] for p in pages}

    def root(url: str) -> str:
        while parent[url] != url:
            parent[url] = parent[parent[url]]
            url = parent[url]
        return url

    for page in pages:
        for other in (page.get("translations") or {}).values():
            if other in by_url:
                a, b = root(page["url"]), root(other)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[str, list[dict[str, Any]]] = {}
    for page in sorted(pages, key=lambda p: p["id"]):
        groups.setdefault(root(page["url"]), []).append(page)
    return sorted(groups.values(), key=lambda g: g[0]["id"])


def _config_entry(
    urls: set[str], names: Iterable[str], config: Sequence[PartnerAlias]
) -> tuple[PartnerAlias | None, bool]:
    """The config entry for a partner, and whether it names the partner (by its pages)."""
    for entry in config:
        if urls & {*entry.pages, *(canonical_url(u) for u in entry.pages)}:
            return entry, True
    folded = {n.casefold() for n in names}
    for entry in config:
        if not entry.pages and entry.name.casefold() in folded:
            return entry, False
    return None, False


def build_partners(
    pages: Sequence[dict[str, Any]],
    hub_texts: dict[str, list[str]],
    hubs: set[str],
    config: Sequence[PartnerAlias] = (),
) -> list[Partner]:
    """The registry from the partnership pages (id, url, lang, status, first_seen, last_seen,
    title, translations), the hub's link texts per URL, and the config's aliases."""
    hub_urls = set(hubs)
    for page in pages:  # the hub's translations are hubs too
        if page["url"] in hubs:
            hub_urls.update((page.get("translations") or {}).values())
    candidates = [p for p in pages if p["url"] not in hub_urls]
    partners = []
    for group in _groups(candidates):
        urls = {p["url"] for p in group}
        members = []
        for page in group:
            member = PartnerPage(page["id"], page["url"], page["lang"])
            if name := name_from_text(page.get("title")):
                member.name, member.source = name, "title"
            elif name := name_from_link(hub_texts.get(page["url"], [])):
                member.name, member.source = name, "hub_link"
            members.append(member)
        names: dict[str, str] = {}
        for member in members:
            if member.name and member.lang not in names:
                names[member.lang] = member.name
        entry, names_it = _config_entry(urls, names.values(), config)
        if names_it and entry:
            for member in members:
                member.name, member.source = entry.name, "config"
            names = {m.lang: entry.name for m in members}
        if not names:
            continue
        first_lang = next(lang for lang in LANGS if lang in names)
        display = entry.name if names_it and entry else names[first_lang]
        aliases = list(entry.aliases) if entry else []
        terms = [display, *(names[lang] for lang in LANGS if lang in names), *aliases]
        partners.append(
            Partner(
                id=group[0]["id"],
                name=display,
                names={lang: names[lang] for lang in LANGS if lang in names},
                aliases=aliases,
                match=match_query(terms),
                first_seen=min(p["first_seen"] for p in group),
                last_seen=max(p["last_seen"] for p in group),
                status="active" if any(p["status"] == PageStatus.LIVE for p in group) else "gone",
                pages=members,
            )
        )
    return partners
