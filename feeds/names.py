"""Feed file names made from the site's words (a category): bounded, unique, stable once given.

A subscriber's URL is a promise: `category-research.xml` is the feed of one category for good.
So a name is decided once, for a subject (kind + the label exactly as the site writes it), and
kept in the archive (storage.feednames); a newcomer whose slug is taken gets the next free one.
Case variants (`Research`, `RESEARCH`) are different subjects: the site filters by the exact
label, so do the category feeds and the watches; folding them would merge two lists of pages
under one title, and which spelling named the feed would depend on arrival.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Set

from feeds.sanitize import clean_text
from storage import Archive

MAX_SLUG = 60  # characters of the slug; "category-" + slug + "-NNN.atom" stays far below 255 bytes


def slugify(name: str) -> str:
    """ASCII file-name slug: "Research & Art" -> "research-and-art", "Yhteistyö" -> "yhteistyo"."""
    text = unicodedata.normalize("NFKD", name.replace("&", " and "))
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def choose_name(kind: str, label: str, taken: Set[str]) -> str:
    """The file stem for a new subject: `<kind>-<slug>`, the slug cut to MAX_SLUG characters
    (a hash of the label when nothing ASCII is left), then `-2`, `-3`, ... past the taken ones."""
    slug = slugify(clean_text(label))[:MAX_SLUG].strip("-")
    stem = f"{kind}-{slug or hashlib.sha1(label.encode()).hexdigest()[:10]}"
    name, n = stem, 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}"
    return name


def new_names(kind: str, labels: Iterable[str], taken: Set[str]) -> dict[str, str]:
    """Names for subjects that have none yet, in label order (as builds before the archive kept
    names assigned them, so an upgraded archive keeps the URLs it published)."""
    chosen: dict[str, str] = {}
    taken = set(taken)
    for label in sorted(set(labels)):
        chosen[label] = name = choose_name(kind, label, taken)
        taken.add(name)
    return chosen


def names_for(archive: Archive, kind: str, labels: Iterable[str]) -> dict[str, str]:
    """The file stem of each subject: the kept one, or a new one kept from now on."""
    return archive.feed_names.assign(kind, list(labels), new_names)
