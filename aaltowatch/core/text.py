"""Text and dates: normalisation shared by page objects and the pipeline (pure, idempotent),
and the one place timestamps are parsed and formatted."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Bidi embeddings, overrides and isolates (and the Arabic letter mark): invisible, and able to
# show text in another order than it is stored ("Trojan Source"); never part of page text.
# A regex character-class body, shared with the feeds' sanitiser (text stored before this rule).
BIDI_CONTROLS = "\u061c\u202a-\u202e\u2066-\u2069"
# C0/C1 controls except tab/newline/carriage return, zero-width, direction marks, bidi controls
# and BOM.
_CONTROL_RE = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200e\u200f\u2028\u2029\u2060\ufeff"
    + BIDI_CONTROLS
    + "]"
)
_BLANKS_RE = re.compile(r"\n\s*\n+")
WORD_RE = re.compile(r"\w+")


def clean_inline(text: str | None) -> str | None:
    """One line of text: NFC, no control characters, whitespace runs folded to one space."""
    if text is None:
        return None
    text = _CONTROL_RE.sub("", unicodedata.normalize("NFC", text))
    # str.split() splits on exactly what `\s` matches (NBSP, thin spaces...), without a regex.
    return " ".join(text.split()) or None


def inline_text(value: str | None) -> str:
    """`clean_inline`, with "" for nothing: for text that is matched or joined, never stored."""
    return clean_inline(value) or ""


def clean_block(text: str | None) -> str:
    """Multi-paragraph text: paragraphs separated by exactly one blank line, each cleaned inline."""
    if not text:
        return ""
    text = _CONTROL_RE.sub("", unicodedata.normalize("NFC", text.replace("\r\n", "\n")))
    paragraphs = (clean_inline(p) for p in _BLANKS_RE.split(text))
    return "\n\n".join(p for p in paragraphs if p)


ELLIPSIS = "\u2026"
# How far back a cut looks for a word boundary before it cuts inside a word.
_WORD_SEARCH = 200


def cut_text(text: str, limit: int) -> str:
    """At most `limit` characters: cut at a word boundary if one is near, ending in "…"."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = max(
        head.rfind(" ", len(head) - _WORD_SEARCH), head.rfind("\n", len(head) - _WORD_SEARCH)
    )
    if space > 0:
        head = head[:space]
    return head.rstrip() + ELLIPSIS


def cut_markup(html: str, limit: int) -> str:
    """At most `limit` characters of HTML, never inside a tag; the output's sanitiser closes
    the elements left open."""
    if len(html) <= limit:
        return html
    head = html[: limit - 1]
    if head.rfind("<") > head.rfind(">"):
        head = head[: head.rfind("<")]
    return head + ELLIPSIS


def words(text: str | None) -> list[str]:
    return WORD_RE.findall(unicodedata.normalize("NFC", text or ""))


def iso_utc(value: str | None) -> str | None:
    """ISO 8601 (offset or Z) or RFC 822 timestamp as `YYYY-MM-DDTHH:MM:SSZ`; naive means UTC."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = parsedate_to_datetime(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return format_utc(parsed)


def format_utc(moment: datetime) -> str:
    """An aware datetime as the archive stores times: `YYYY-MM-DDTHH:MM:SSZ`."""
    moment = moment.astimezone(UTC)
    return f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%SZ")


def utc_now() -> str:
    """Now, as the archive stores times."""
    return format_utc(datetime.now(UTC))


def parse_utc(value: str | None) -> datetime | None:
    """An aware UTC datetime from an ISO 8601 timestamp (Z or an offset; naive means UTC), or
    None when there is none or it cannot be read."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def parse_http_date(value: str) -> datetime | None:
    """An HTTP date (RFC 9110, e.g. If-Modified-Since) as an aware datetime; None if unreadable."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
