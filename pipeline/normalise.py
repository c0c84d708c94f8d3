"""Normalise an item before it is fingerprinted, so equal content always hashes equal, and
give each value its shape: no longer than its field's limit (core.fields), the cut recorded."""

from __future__ import annotations

import dataclasses
from typing import Any

from aaltowatch.core.fields import MAX_URL_CHARS, Field, Shape
from aaltowatch.core.items import Unchanged
from aaltowatch.core.text import clean_block, clean_inline, cut_markup, cut_text, iso_utc
from aaltowatch.core.urls import canonical_url
from pages.article import PageItem
from pages.fields import BY_NAME, FIELDS


def _clean_dict(d: dict[str, Any], base_url: str | None) -> dict[str, Any]:
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


def _cut(field: Field, value: Any) -> Any:
    """The value within its field's limits (text cut at a word boundary, HTML between tags,
    lists shortened); the same value when it already is."""
    limit = field.limit
    if limit is None or not value:
        return value
    if isinstance(value, str):
        return cut_markup(value, limit) if field.shape is Shape.RAW else cut_text(value, limit)
    if field.most is not None:
        value = (
            dict(list(value.items())[: field.most])
            if isinstance(value, dict)
            else value[: field.most]
        )
    if field.shape is Shape.NAMES:
        return sorted({cut_text(name, limit) for name in value})
    if field.shape is Shape.RECORDS:
        return [{k: _cut_record_value(k, v, limit) for k, v in r.items()} for r in value]
    if field.shape is Shape.LINKS:  # a URL cannot be cut: a longer one is left out
        return {lang: url for lang, url in value.items() if len(url or "") <= limit}
    return value


def _cut_record_value(key: str, value: Any, limit: int) -> Any:
    """A record's text cut to `limit`; its URL (`src`) left out when longer than a URL may be."""
    if not isinstance(value, str):
        return value
    if key == "src":
        return value if len(value) <= MAX_URL_CHARS else None
    return cut_text(value, limit)


def _shaped(values: dict[str, Any], truncated: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The values cut to their limits, and the fields cut (with those cut before)."""
    shaped = {name: _cut(BY_NAME[name], value) for name, value in values.items()}
    cut = {name for name, value in values.items() if shaped[name] != value}
    return shaped, sorted(cut.union(truncated))


def normalise(item: PageItem, base_url: str | None = None) -> PageItem:
    """URLs to the public origin, text to NFC single-spaced, dates to ISO 8601 UTC, every value
    within its limits and the cut ones named in `truncated`. Idempotent."""
    values = {f.name: _normalised(f.shape, getattr(item, f.name), base_url) for f in FIELDS}
    values, values["truncated"] = _shaped(values, values["truncated"])
    return dataclasses.replace(
        item,
        **values,
        moved_from=canonical_url(item.moved_from, base_url) if item.moved_from else None,
    )


def normalise_unchanged(item: Unchanged) -> Unchanged:
    """The categories a teaser gave an unchanged page, shaped as a page's own."""
    if not item.categories:
        return item
    values = {"categories": _normalised(Shape.NAMES, item.categories, None)}
    values, truncated = _shaped(values, item.truncated)
    return dataclasses.replace(item, categories=values["categories"], truncated=truncated)
