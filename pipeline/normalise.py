"""Normalise an item before it is fingerprinted, so equal content always hashes equal."""

from __future__ import annotations

import dataclasses

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


def normalise(item: PageItem, base_url: str | None = None) -> PageItem:
    """URLs to the public origin, text to NFC single-spaced, dates to ISO 8601 UTC. Idempotent."""
    # Sorted: the listing and the feed may name the same categories in different orders.
    categories = sorted({c for c in map(clean_inline, item.categories) if c})
    return dataclasses.replace(
        item,
        url=canonical_url(item.url, base_url),
        title=clean_inline(item.title),
        lead=clean_inline(item.lead),
        body=clean_block(item.body),
        published=iso_utc(item.published),
        updated=iso_utc(item.updated),
        categories=categories,
        contacts=[_clean_dict(c, base_url) for c in item.contacts],
        images=[_clean_dict(i, base_url) for i in item.images],
        translations={
            lang: canonical_url(url, base_url) for lang, url in sorted(item.translations.items())
        },
        moved_from=canonical_url(item.moved_from, base_url) if item.moved_from else None,
    )
