"""The field registry: each field of a page item declared once, with what consumers need.

Fingerprints, classification, date flags, normalisation, the recorder's version rows, storage's
JSON columns and version columns, exports, HTML diffs and the layout-drift health check all
derive their field lists from `FIELDS`. A new field is a `PageItem` attribute, one `Field` here,
a migration adding its column, and the golden files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

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
    diffed: bool = False  # shown in the HTML diffs of the feeds
    exported: bool = False  # in `export` rows (docs/DESIGN.md §7)
    extracted: bool = False  # the page object notes its source in `item.extraction`
    guarded: bool = False  # an untrusted re-extraction holds a new version back (layout drift)
    keys: tuple[str, ...] | None = None  # the keys of each record that are compared
    # Longest value stored, in characters (of each name, or of each text of a record); longer
    # ones are cut, and the version records the cut (`truncated`). None: no text to cut.
    limit: int | None = None
    most: int | None = None  # most names or records kept of a list; more are cut the same way
    doc: str = ""  # its column's description (storage.schema_doc, the README, Datasette)

    @property
    def json(self) -> bool:
        return self.shape in (Shape.NAMES, Shape.RECORDS, Shape.LINKS)


# A URL cannot be cut: a longer one (an image's src, a translation link) is left out. The
# sitemap protocol's limit; the site's URLs are below 200 characters.
MAX_URL_CHARS = 2_048
# The limits are far above anything a real page of the site carries (a long news title is
# ~150 characters, a lead ~600, a body ~30,000 with ~60,000 of HTML, a page a dozen categories
# and contacts): they only stop a broken or hostile page from carrying megabytes into every
# feed, page and export. A cut value ends in an ellipsis, and the version lists the field.
FIELDS = (
    Field("url", Shape.URL, exported=True),
    Field("kind", exported=True),
    Field("lang", exported=True),
    Field("title", Shape.INLINE, version=True, compared=True, hashed=True, duplicate=True,
          edited=True, diffed=True, exported=True, extracted=True, guarded=True,
          limit=1_000, doc="Title."),
    Field("lead", Shape.INLINE, version=True, compared=True, hashed=True, duplicate=True,
          edited=True, diffed=True, exported=True, extracted=True, limit=5_000,
          doc="Lead paragraph."),
    Field("body", Shape.BLOCK, version=True, compared=True, hashed=True, duplicate=True,
          edited=True, diffed=True, exported=True, extracted=True, guarded=True,
          limit=200_000, doc="Plain-text body, paragraphs separated by a blank line."),
    Field("body_html", version=True, limit=400_000, doc="Sanitised body HTML."),
    Field("published", Shape.DATE, version=True, compared=True, hashed=True, duplicate=True,
          diffed=True, exported=True, extracted=True,
          doc="Publication time from the page (ISO 8601 UTC)."),
    Field("updated", Shape.DATE, version=True, compared=True, exported=True, extracted=True,
          doc="Update time from the page (ISO 8601 UTC)."),
    Field("categories", Shape.NAMES, version=True, compared=True, hashed=True, diffed=True,
          exported=True, limit=200, most=100,
          doc="JSON list of categories (from listings and the site feed)."),
    Field("contacts", Shape.RECORDS, version=True, compared=True, hashed=True, duplicate=True,
          edited=True, diffed=True, exported=True, limit=1_000, most=100,
          doc="JSON list of {name, title, organisation, email, phone}."),
    # Image src carries cache-busters (itok) that rotate without any content change.
    Field("images", Shape.RECORDS, version=True, compared=True, hashed=True, edited=True,
          diffed=True, exported=True, keys=("alt", "caption", "credit"), limit=2_000,
          most=200, doc="JSON list of {src, alt, caption, credit}."),
    Field("translations", Shape.LINKS, version=True, compared=True, hashed=True, exported=True,
          limit=MAX_URL_CHARS, most=20, doc="JSON object {lang: url}."),
    Field("fetched_at", exported=True),  # a version's is the moment it was observed
    Field("http_status", version=True, exported=True, doc="HTTP status of the fetch."),
    Field("raw_sha256", version=True, exported=True,
          doc="sha256 of the raw response (responses.sha256)."),
    Field("truncated", Shape.NAMES, version=True, exported=True,
          doc="JSON list of the fields cut to their limit (core.fields) when stored."),
)  # fmt: skip
BY_NAME = {f.name: f for f in FIELDS}
VERSION_DOCS = {f.name: f.doc for f in FIELDS if f.version}


def names(fact: str) -> tuple[str, ...]:
    """The fields with a fact (a `Field` attribute), in registry order."""
    return tuple(f.name for f in FIELDS if getattr(f, fact))


VERSION_COLUMNS = names("version")
COMPARED_FIELDS = names("compared")
HASHED_FIELDS = names("hashed")
DUPLICATE_FIELDS = names("duplicate")
EDITED_FIELDS = frozenset(names("edited"))
DIFF_FIELDS = names("diffed")
EXPORTED_FIELDS = names("exported")
EXTRACTED_FIELDS = names("extracted")
GUARDED_FIELDS = names("guarded")
JSON_FIELDS = names("json")


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
