"""What a field of a page item is, and how a page object declares one (web-poet's habit).

A page object (pages.article.ArticlePage) declares each field once, as a method decorated with
`@field(...)`: the method's name is the item key, the decorator's arguments are what consumers
need (shape, limit, compared, shown in diffs and views, ...), the body is its extraction.
`fields_of` reads the declarations back in order; the item class (`item_class`) and the lists
of fingerprints, classification, normalisation, storage's columns and views, exports and diffs
(pages.fields) derive from them. docs/DESIGN.md "Adding a field" gives the path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from aaltowatch.core.text import parse_utc
from aaltowatch.core.urls import SECTIONS


class Shape(StrEnum):
    """How a value is normalised, compared and stored."""

    URL = "url"  # canonicalised to the public origin
    INLINE = "inline"  # one line of text, NFC single-spaced
    BLOCK = "block"  # paragraphs; compared by its words only
    DATE = "date"  # ISO 8601 UTC
    NAMES = "names"  # a set of names, sorted
    RECORDS = "records"  # a list of small objects (JSON column)
    LINKS = "links"  # language -> URL (JSON column)
    RAW = "raw"  # stored as read


@dataclass(frozen=True)
class Field:
    name: str
    shape: Shape = Shape.RAW
    version: bool = False  # a column of `versions`, copied from the item
    compared: bool = False  # a difference is a change (reported in this order)
    hashed: bool = False  # in the content hash: a new version only when one of these moves
    duplicate: bool = False  # in the duplicate hash: equal ones make pages duplicates
    edited: bool = False  # changed by an editor on the page (what a declared `updated` is about)
    diffed: bool = False  # shown in the diffs: the feeds' HTML diffs and `aaltowatch diff`
    viewed: bool = False  # a column of the `current_pages` view (and the views over it)
    exported: bool = False  # in `export` rows (docs/DESIGN.md §7)
    extracted: bool = False  # its method returns (value, Source): noted in `item.extraction`
    guarded: bool = False  # an untrusted re-extraction holds a new version back (layout drift)
    keys: tuple[str, ...] | None = None  # the keys of each record that are compared and shown
    # Longest value stored, in characters (of each name, or of each text of a record); longer
    # ones are cut, and the version records the cut (`truncated`). None: no text to cut.
    limit: int | None = None
    most: int | None = None  # most names or records kept of a list; more are cut the same way
    label: str = ""  # what starts its lines in a text diff ("" for none)
    # The item's value when the page object is not asked (a hand-built item): `list` and
    # `dict` make a new empty one, dataclasses.MISSING makes the field required.
    default: Any = None
    doc: str = ""  # its column's description (storage.schema_doc, the README, Datasette)

    @property
    def json(self) -> bool:
        return self.shape in (Shape.NAMES, Shape.RECORDS, Shape.LINKS)


Method = TypeVar("Method", bound=Callable[..., Any])


def field(shape: Shape = Shape.RAW, **facts: Any) -> Callable[[Method], Method]:
    """Declare a page object's method a field of its item (web-poet's `@field`): the method's
    name is the field's name, `facts` are the other `Field` attributes."""

    def declare(method: Method) -> Method:
        method.__field__ = Field(method.__name__, shape, **facts)  # type: ignore[attr-defined]
        return method

    return declare


def fields_of(page: type) -> tuple[Field, ...]:
    """The fields a page object class declares, in declaration order (bases first)."""
    found: dict[str, Field] = {}
    for cls in reversed(page.__mro__):
        for value in vars(cls).values():
            spec = getattr(value, "__field__", None)
            if isinstance(spec, Field):
                found[spec.name] = spec
    return tuple(found.values())


def item_class(name: str, fields: tuple[Field, ...], base: type, module: str) -> type:
    """A dataclass item with one attribute per field (keyword-only, so a required field may
    follow a defaulted one of `base`)."""

    def spec(f: Field) -> Any:
        if f.default in (list, dict):
            return dataclasses.field(default_factory=f.default)
        return dataclasses.field(default=f.default)

    cls = dataclasses.make_dataclass(
        name, [(f.name, Any, spec(f)) for f in fields], bases=(base,), kw_only=True
    )
    cls.__module__ = module
    return cls


# A URL cannot be cut: a longer one (an image's src, a translation link) is left out. The
# sitemap protocol's limit; the site's URLs are below 200 characters.
MAX_URL_CHARS = 2_048


def required_fields(kind: str) -> tuple[str, ...]:
    """Fields a page of `kind` must have from the site's own markup (layout-drift check):
    what its section of the site model declares."""
    return next((s.required for s in SECTIONS if s.kind == kind), ())


# Dates a page may plausibly declare: not before 1990 (no web page is older), and not after
# the moment it was observed by more than FUTURE_MARGIN (time zones, an article scheduled for
# the morning). A date outside is kept as declared, flagged (pipeline.dates), and never used to
# order or date a feed, an entry or a chart (feeds.entries, storage.rows.plausible_sql).
EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_MARGIN = timedelta(days=2)


def plausible(value: str | None, observed_at: str | None) -> bool:
    """Is a declared date (ISO 8601) inside the window of a page observed at `observed_at`?
    Without an observation time only the earliest bound applies."""
    moment = parse_utc(value)
    if moment is None:
        return False
    observed = parse_utc(observed_at)
    if moment < EARLIEST_DATE:
        return False
    return observed is None or moment - FUTURE_MARGIN <= observed
