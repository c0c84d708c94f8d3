"""How rows travel between SQLite and Python: JSON columns decoded, timestamps in one format."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from aaltowatch.core.fields import JSON_FIELDS, VERSION_COLUMNS

# A page's current version beside its row: `http_status` is the page's own (last seen).
CURRENT_VERSION_COLUMNS = ", ".join(
    f"v.{name} AS version_{name}" if name == "http_status" else f"v.{name}"
    for name in (*VERSION_COLUMNS, "fetched_at")
)
JSON_COLUMNS = (
    *JSON_FIELDS,
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
