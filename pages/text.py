"""Text and date normalisation shared by the page objects.

Every string an item carries goes through here, so equal content always compares equal
(NFC, one space per whitespace run, no control characters) and dates are always UTC.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# C0/C1 controls except tab/newline/carriage return, plus zero-width and BOM characters.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u2060\ufeff]")


def clean_text(value: str | None) -> str:
    """NFC, controls removed, whitespace runs collapsed to one space, trimmed."""
    if not value:
        return ""
    value = _CONTROL_RE.sub("", unicodedata.normalize("NFC", value))
    # str.split() splits on exactly the characters `\s` matches, and is much cheaper than a regex.
    return " ".join(value.split())


def clean_or_none(value: str | None) -> str | None:
    """Like clean_text, but an empty result is None (missing fields are null, not "")."""
    return clean_text(value) or None


def to_utc_iso(value: str | None) -> str | None:
    """ISO 8601 or RFC 822 date -> 'YYYY-MM-DDTHH:MM:SSZ'; naive values are taken as UTC."""
    value = (value or "").strip()
    if not value:
        return None
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError):
        return None
