"""Decide what a new observation of a page means compared with its last stored version."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from aaltowatch.core.fields import COMPARED_FIELDS, GUARDED_FIELDS
from aaltowatch.core.items import TRUSTED_SOURCES
from aaltowatch.core.text import words
from pipeline.fingerprint import comparable

# Extraction sources that mean the site's own markup was understood.


@dataclass
class Verdict:
    change: str | None  # None | new | modified | flagged
    fields: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [f for f in COMPARED_FIELDS if comparable(f, old.get(f)) != comparable(f, new.get(f))]


def suspicious(
    old: dict[str, Any],
    new: dict[str, Any],
    old_extraction: dict[str, Any],
    new_extraction: dict[str, Any],
) -> list[str]:
    """Reasons not to trust a new version: the page did not change, our reading of it did."""
    reasons = []
    if words(old.get("body")) and not words(new.get("body")):
        reasons.append("empty_body")
    for name in GUARDED_FIELDS:
        was = old_extraction.get(name)
        now = new_extraction.get(name)
        if was in TRUSTED_SOURCES and now is not None and now not in TRUSTED_SOURCES:
            reasons.append(f"layout_drift:{name}")
    return reasons


def classify(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    old_extraction: dict[str, Any] | None = None,
    new_extraction: dict[str, Any] | None = None,
) -> Verdict:
    if old is None:
        return Verdict("new")
    fields = changed_fields(old, new)
    if not fields or fields == ["updated"]:
        return Verdict(None)
    reasons = suspicious(old, new, old_extraction or {}, new_extraction or {})
    if reasons:
        return Verdict("flagged", fields, reasons)
    return Verdict("modified", fields)


def as_text(record: dict[str, Any]) -> list[str]:
    """A page as lines for a diff: title, lead, then one paragraph per line."""
    lines = [f"# {record.get('title') or ''}"]
    if record.get("lead"):
        lines.append(record["lead"])
    lines.extend(p for p in (record.get("body") or "").split("\n\n") if p)
    for contact in record.get("contacts") or []:
        lines.append("Contact: " + ", ".join(str(v) for v in contact.values() if v))
    return lines


def unified_diff(
    old: dict[str, Any] | None, new: dict[str, Any], old_label: str, new_label: str
) -> str:
    before = as_text(old) if old else []
    return "\n".join(
        difflib.unified_diff(before, as_text(new), old_label, new_label, lineterm="", n=1)
    )
