"""The field registry, derived from the page object's declarations (pages.article).

Fingerprints, classification, date flags, normalisation, the recorder's version rows, storage's
JSON columns, version columns and `current_pages` view, exports, the text and HTML diffs and the
layout-drift health check all take their field lists from here, never from a list of their own.
"""

from __future__ import annotations

from aaltowatch.core.fields import Field
from pages.article import FIELDS

BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
VERSION_DOCS = {f.name: f.doc for f in FIELDS if f.version}


def names(fact: str) -> tuple[str, ...]:
    """The fields with a fact (a `Field` attribute), in declaration order."""
    return tuple(f.name for f in FIELDS if getattr(f, fact))


VERSION_COLUMNS = names("version")
COMPARED_FIELDS = names("compared")
HASHED_FIELDS = names("hashed")
DUPLICATE_FIELDS = names("duplicate")
EDITED_FIELDS = frozenset(names("edited"))
DIFF_FIELDS = names("diffed")
VIEW_FIELDS = names("viewed")
EXPORTED_FIELDS = names("exported")
EXTRACTED_FIELDS = names("extracted")
GUARDED_FIELDS = names("guarded")
JSON_FIELDS = names("json")
