"""How raw response bodies are compressed in `responses`: zstd with a dictionary trained on the
site's own pages (its pages share most of their markup, so a dictionary gains ~2.5x over zlib).

Each blob names its codec and dictionary, so blobs written before a (re)trained dictionary,
and the zlib blobs of older archives, stay readable.

A URL's bodies are nearly identical from one fetch to the next (menus, scripts, footer): a
later body is stored as a delta, zstd with its URL's keyframe body (itself stored with the
dictionary) as the prefix, ~4x smaller than with the dictionary alone. One level deep: a
delta is decoded from its keyframe, never from another delta.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

try:  # Python 3.14+
    from compression import zstd  # type: ignore[import-not-found]
except ImportError:  # the backport Scrapy installs
    from backports import zstd

ZLIB, ZSTD, DELTA = "zlib", "zstd", "zstd-delta"
# Level 6 with the dictionary: 7.4x on the snapshot's pages (zlib level 1: 3.1x), 0.3 ms a page.
LEVEL = 6
# zstd's own default dictionary size; past ~100 KB a dictionary gains little on HTML pages.
DICT_SIZE = 112_640
# Bodies a dictionary is trained on: enough to see every template, few enough to train in ~1 s.
TRAIN_SAMPLES = 1000
# Fewer bodies than this train a dictionary that does not generalise: compress without one.
MIN_TRAIN_SAMPLES = 100


def load_dict(content: bytes) -> zstd.ZstdDict:
    """A stored dictionary, ready to use (loading one costs more than a page: keep it)."""
    return zstd.ZstdDict(content)


def compress(body: bytes, zdict: zstd.ZstdDict | None) -> bytes:
    # The digested form is prepared once per dictionary and level: 0.3 ms a page, not 0.8.
    return zstd.compress(body, LEVEL, zstd_dict=zdict.as_digested_dict if zdict else None)


def compress_delta(body: bytes, base: bytes) -> bytes:
    """The body as zstd with `base` (its keyframe's raw bytes) as the prefix."""
    return zstd.compress(body, LEVEL, zstd_dict=_prefix(base))


def delta(body: bytes, base: bytes, base_blob_size: int) -> bytes | None:
    """The body as a delta against its keyframe, or None when that is no smaller than the
    keyframe's own blob (the page's markup changed): the body becomes a new keyframe."""
    blob = compress_delta(body, base)
    return blob if len(blob) < base_blob_size else None


def decompress(
    blob: bytes, codec: str, zdict: zstd.ZstdDict | None, base: bytes | None = None
) -> bytes:
    if codec == ZLIB:
        return zlib.decompress(blob)
    if codec == DELTA:
        if base is None:
            raise ValueError("a delta body needs its keyframe")
        return zstd.decompress(blob, zstd_dict=_prefix(base))
    return zstd.decompress(blob, zstd_dict=zdict)


def _prefix(base: bytes) -> zstd.ZstdDict:
    return zstd.ZstdDict(base, is_raw=True).as_prefix


def train(samples: Sequence[bytes], size: int = DICT_SIZE) -> bytes:
    """A dictionary for these bodies (raises zstd.ZstdError when they are too few or alike)."""
    return zstd.train_dict(list(samples), size).dict_content


TrainError = zstd.ZstdError
