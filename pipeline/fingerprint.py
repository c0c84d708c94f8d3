"""Content fingerprints: what counts as "the same page" for versions and for duplicates."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aaltowatch.text import words

# Image src carries cache-busters (itok) that rotate without any content change.
IMAGE_KEYS = ("alt", "caption", "credit")
VERSION_FIELDS = (
    "title",
    "lead",
    "body",
    "published",
    "categories",
    "contacts",
    "images",
    "translations",
)
DUPLICATE_FIELDS = ("title", "lead", "body", "published", "contacts")


def comparable(field: str, value: Any) -> Any:
    """The part of a field that matters: whitespace-insensitive body, images without src."""
    if field == "body":
        return " ".join(words(value))
    if field == "images":
        return [{k: (img or {}).get(k) for k in IMAGE_KEYS} for img in value or []]
    if field in ("categories", "contacts"):
        return list(value or [])
    if field == "translations":
        return dict(sorted((value or {}).items()))
    return value


def _hash(fields: tuple[str, ...], record: dict[str, Any]) -> str:
    payload = {f: comparable(f, record.get(f)) for f in fields}
    blob = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def content_hash(record: dict[str, Any]) -> str:
    """Moves only with content: `updated` and boilerplate are not part of it."""
    return _hash(VERSION_FIELDS, record)


def duplicate_hash(record: dict[str, Any]) -> str:
    return _hash(DUPLICATE_FIELDS, record)


def simhash(text: str, bits: int = 64) -> int:
    """Charikar simhash over word 3-shingles, as a signed 64-bit int (SQLite INTEGER)."""
    tokens = [w.lower() for w in words(text)]
    shingles = (
        [" ".join(tokens[i : i + 3]) for i in range(max(1, len(tokens) - 2))] if tokens else []
    )
    if not shingles:
        return 0
    # Count set bits per position with C-level slicing over one string of binary digits: a
    # per-bit Python loop was most of the crawl's CPU time on long articles. Bit i is set when
    # more than half of the shingle hashes have it, exactly as with +1/-1 counters.
    mask, width = (1 << bits) - 1, f"0{bits}b"
    hashes = (hashlib.blake2b(s.encode(), digest_size=8).digest() for s in shingles)
    digits = "".join(format(int.from_bytes(h, "big") & mask, width) for h in hashes)
    n = len(shingles)
    value = sum(1 << i for i in range(bits) if 2 * digits[bits - 1 - i :: bits].count("1") > n)
    return value - (1 << 64) if value >= 1 << 63 else value


def simhash_bands(value: int) -> tuple[int, int, int, int]:
    """Four 16-bit bands: two hashes within distance 3 share at least one band exactly."""
    unsigned = value & ((1 << 64) - 1)
    return tuple((unsigned >> (16 * i)) & 0xFFFF for i in range(4))  # type: ignore[return-value]


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()
