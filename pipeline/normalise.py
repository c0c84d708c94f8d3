"""Normalise an item before it is fingerprinted, so equal content always hashes equal."""

from __future__ import annotations

import dataclasses
from typing import Any

from aaltowatch.core.fields import FIELDS, Shape
from aaltowatch.core.items import PageItem
from aaltowatch.core.text import clean_block, clean_inline, iso_utc
from aaltowatch.core.urls import canonical_url


def _clean_dict(d: dict, base_url: str | None) -> dict:
    out = {}
    for key, value in d.items():
        if isinstance(value, str):
            out[key] = canonical_url(value, base_url) if key == "src" else clean_inline(value)
        else:
            out[key] = value
    return out


def _normalised(shape: Shape, value: Any, base_url: str | None) -> Any:
    if shape is Shape.URL:
        return canonical_url(value, base_url)
    if shape is Shape.INLINE:
        return clean_inline(value)
    if shape is Shape.BLOCK:
        return clean_block(value)
    if shape is Shape.DATE:
        return iso_utc(value)
    if shape is Shape.NAMES:
        # Sorted: the listing and the feed may name the same categories in different orders.
        return sorted({c for c in map(clean_inline, value) if c})
    if shape is Shape.RECORDS:
        return [_clean_dict(record, base_url) for record in value]
    if shape is Shape.LINKS:
        return {lang: canonical_url(url, base_url) for lang, url in sorted(value.items())}
    return value


def normalise(item: PageItem, base_url: str | None = None) -> PageItem:
    """URLs to the public origin, text to NFC single-spaced, dates to ISO 8601 UTC. Idempotent."""
    return dataclasses.replace(
        item,
        **{f.name: _normalised(f.shape, getattr(item, f.name), base_url) for f in FIELDS},
        moved_from=canonical_url(item.moved_from, base_url) if item.moved_from else None,
    )
