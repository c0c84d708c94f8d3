"""Text and date normalisation shared by the page objects.

Every string an item carries goes through here, so equal content always compares equal
(NFC, one space per whitespace run, no control characters) and dates are always UTC.
"""

from __future__ import annotations

from aaltowatch.core.text import clean_inline, iso_utc

# One normalisation for page objects and pipeline (aaltowatch.core.text), under the names the
# page objects read best with.
clean_or_none = clean_inline  # missing fields are null, not ""
to_utc_iso = iso_utc


def clean_text(value: str | None) -> str:
    """NFC, controls removed, whitespace runs collapsed to one space, trimmed ("" if empty)."""
    return clean_inline(value) or ""
