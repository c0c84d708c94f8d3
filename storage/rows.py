"""How rows travel between SQLite and Python: JSON columns decoded, timestamps in one format."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

JSON_COLUMNS = (
    "categories",
    "contacts",
    "images",
    "translations",
    "fields",
    "extraction",
    "stats",
    "flags",
    "names",
    "aliases",
)


def utcnow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _decode_row(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    out = dict(row)
    for key in JSON_COLUMNS:
        if key in out and isinstance(out[key], str):
            out[key] = json.loads(out[key])
    return out


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=False)
