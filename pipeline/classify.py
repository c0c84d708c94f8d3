"""Decide what a new observation of a page means compared with its last stored version."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aaltowatch.core.items import TRUSTED_SOURCES
from aaltowatch.core.text import words
from pages.fields import BY_NAME, COMPARED_FIELDS, DIFF_FIELDS, GUARDED_FIELDS
from pipeline.fingerprint import comparable

# Extraction sources that mean the site's own markup was understood.


@dataclass
class Verdict:
    change: str | None  # None | new | modified | flagged
    fields: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def unknown_fields(old: dict[str, Any] | None, since: Mapping[str, int]) -> frozenset[str]:
    """Fields the previous version was not extracted with: declared after it was stored (the
    first version id stored with each added field, storage.migrations.field_since)."""
    if old is None or "id" not in old:
        return frozenset()
    return frozenset(name for name, first in since.items() if old["id"] < first)


def as_known(old: dict[str, Any], new: dict[str, Any], since: Mapping[str, int]) -> dict[str, Any]:
    """The previous version with the fields it was not extracted with read as the new values.
    Such a field never changed: the old version has no value for it, only an unasked question;
    so no change, no diff line and no date flag comes of it."""
    unknown = unknown_fields(old, since)
    return {**old, **{name: new.get(name) for name in unknown}} if unknown else old


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


def field_lines(name: str, value: Any) -> list[str]:
    """A field's value as diff lines: a text by its paragraphs, a list one item a line (a
    record by its shown keys), each started by the field's label."""
    spec = BY_NAME[name]
    if spec.json:
        items = list(value.values()) if isinstance(value, dict) else list(value or [])
    else:
        items = [p for p in str(value or "").split("\n\n") if p]
    texts = [
        ", ".join(str(v) for k, v in item.items() if v and (spec.keys is None or k in spec.keys))
        if isinstance(item, dict)
        else str(item)
        for item in items
    ]
    return [f"{spec.label} {text}" if spec.label else text for text in texts if text]


def as_text(record: dict[str, Any]) -> list[str]:
    """A page as lines for a diff: every field shown in diffs, the title as the heading (also
    when there is none, so two versions' texts always start alike)."""
    lines = [f"# {record.get('title') or ''}"]
    for name in DIFF_FIELDS:
        if name != "title":
            lines.extend(field_lines(name, record.get(name)))
    return lines


def unified_diff(
    old: dict[str, Any] | None, new: dict[str, Any], old_label: str, new_label: str
) -> str:
    before = as_text(old) if old else []
    return "\n".join(
        difflib.unified_diff(before, as_text(new), old_label, new_label, lineterm="", n=1)
    )
