"""Bytes -> text for HTML pages whose declared charset cannot always be trusted.

The site serves UTF-8, but copies, archives and odd proxies serve Latin-1/cp1252 or declare one
charset while sending another, so each candidate is validated before it is used.
"""

from __future__ import annotations

import codecs

from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
)


def _candidates(body: bytes, content_type: str | None) -> list[str]:
    """Declared encodings first (BOM, HTTP header, <meta>), then UTF-8 and cp1252."""
    found: list[str | None] = []
    bom, _ = read_bom(body)
    found.append(bom)
    if content_type:
        found.append(http_content_type_encoding(content_type))
    found.append(html_body_declared_encoding(body))
    found += ["utf-8", "cp1252"]
    names: list[str] = []
    for name in found:
        resolved = resolve_encoding(name) if name else None
        if resolved and resolved not in names:
            names.append(resolved)
    return names


def _mostly_utf8(body: bytes) -> bool:
    """True when stray bad bytes sit in otherwise real UTF-8 (keep it, replace the bad bytes)."""
    text = body.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 0x7F) - bad
    return good > bad


def _utf8_in_disguise(body: bytes, name: str) -> bool:
    """A legacy label (Latin-1, cp1252, GBK, Shift_JIS...) on bytes that are valid multi-byte
    UTF-8 is a mislabel: real legacy-encoded text almost never forms valid UTF-8 sequences
    throughout by chance, while UTF-8 served under a stale label is common."""
    if codecs.lookup(name).name in ("utf-8", "utf-16", "utf-32") or body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Decode an HTML response; never raises, whatever the bytes."""
    if isinstance(body, str):
        return body
    candidates = _candidates(body, content_type)
    if candidates and not read_bom(body)[0] and _utf8_in_disguise(body, candidates[0]):
        return body.decode("utf-8")
    for name in candidates:
        try:
            text = codecs.decode(body, name)
        except (UnicodeDecodeError, LookupError, ValueError):
            if name in ("utf-8", "utf8") and _mostly_utf8(body):
                return body.decode("utf-8", errors="replace").lstrip("\ufeff")
            continue
        return text.lstrip("\ufeff")
    return body.decode("latin-1")
