"""Content fingerprints: what counts as "the same page" for versions and for duplicates."""

from __future__ import annotations

import hashlib
import json
import sys
from array import array
from functools import lru_cache
from operator import xor
from typing import Any

from aaltowatch.core.fields import Shape
from aaltowatch.core.text import words
from pages.fields import BY_NAME, DUPLICATE_FIELDS, HASHED_FIELDS


@lru_cache(maxsize=16)
def body_words(text: str | None) -> str:
    """The body as its words joined by single spaces: whitespace-insensitive.

    Cached: one new version's body is hashed for versions, duplicates and simhash.
    """
    return " ".join(words(text))


def comparable(field: str, value: Any) -> Any:
    """The part of a field that matters (aaltowatch.core.fields): a block of text by its words,
    records by their compared keys, names and links in a stable order."""
    spec = BY_NAME.get(field)
    shape = spec.shape if spec else Shape.RAW
    if shape is Shape.BLOCK:
        return body_words(value)
    if shape is Shape.RECORDS and spec and spec.keys:
        return [{k: (record or {}).get(k) for k in spec.keys} for record in value or []]
    if shape in (Shape.NAMES, Shape.RECORDS):
        return list(value or [])
    if shape is Shape.LINKS:
        return dict(sorted((value or {}).items()))
    return value


def _hash(fields: tuple[str, ...], record: dict[str, Any]) -> str:
    payload = {f: comparable(f, record.get(f)) for f in fields}
    blob = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def content_hash(record: dict[str, Any]) -> str:
    """Moves only with content: `updated` and boilerplate are not part of it."""
    return _hash(HASHED_FIELDS, record)


def duplicate_hash(record: dict[str, Any]) -> str:
    return _hash(DUPLICATE_FIELDS, record)


_MASK64 = (1 << 64) - 1
# _BIT[j] maps a byte to its bit j (0 or 1): bits are counted a column of bytes at a time.
_BIT = tuple(bytes((b >> j) & 1 for b in range(256)) for j in range(8))


def simhash(text: str) -> int:
    """Charikar simhash over word 3-shingles, as a signed 64-bit int (SQLite INTEGER).

    Each distinct word is hashed and rotated once, a shingle's hash is its words' hashes
    rotated and xored, and bits are counted at C level over the shingles' bytes (a digest per
    shingle and a per-bit Python loop were most of the crawl's CPU time).
    """
    tokens = body_words(text).lower().split()
    if not tokens:
        return 0
    h = {
        w: int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "big")
        for w in set(tokens)
    }
    # Rotations by 21 and 42 bits keep "a b c" and "b a c" apart.
    r21 = {w: ((x << 21) | (x >> 43)) & _MASK64 for w, x in h.items()}
    r42 = {w: ((x << 42) | (x >> 22)) & _MASK64 for w, x in h.items()}
    n = max(1, len(tokens) - 2)
    first = list(map(h.__getitem__, tokens[:n]))
    second = [*map(r21.__getitem__, tokens[1 : n + 1]), 0]
    third = [*map(r42.__getitem__, tokens[2 : n + 2]), 0, 0]
    shingles = array("Q", map(xor, map(xor, first, second), third))
    if sys.byteorder == "big":
        shingles.byteswap()
    data = shingles.tobytes()  # byte k of each shingle holds its bits 8k to 8k + 7
    value = 0
    for k in range(8):
        column = data[k::8]
        for j in range(8):
            if 2 * column.translate(_BIT[j]).count(1) > n:
                value |= 1 << (8 * k + j)
    return value - (1 << 64) if value >= 1 << 63 else value


def simhash_bands(value: int) -> tuple[int, int, int, int]:
    """Four 16-bit bands: two hashes within distance 3 share at least one band exactly."""
    unsigned = value & ((1 << 64) - 1)
    return tuple((unsigned >> (16 * i)) & 0xFFFF for i in range(4))  # type: ignore[return-value]


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()
