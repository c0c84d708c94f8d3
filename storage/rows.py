"""How rows travel between SQLite and Python: JSON columns decoded, timestamps in one format."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from aaltowatch.core.fields import EARLIEST_DATE, FUTURE_MARGIN
from aaltowatch.core.text import format_utc
from pages.fields import JSON_FIELDS, VERSION_COLUMNS

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


def plausible_sql(column: str, observed: str) -> str:
    """SQL for a stored date `column` where core.fields.plausible holds for it (observed at
    the time in `observed`), else NULL: what feeds and charts may order and date by."""
    earliest = format_utc(EARLIEST_DATE)
    margin = int(FUTURE_MARGIN.total_seconds())
    latest = f"strftime('%Y-%m-%dT%H:%M:%SZ', {observed}, '+{margin} seconds')"
    return f"CASE WHEN {column} >= '{earliest}' AND {column} <= {latest} THEN {column} END"


def feed_date_sql(column: str, observed: str, fallback: str) -> str:
    """SQL of the date a feed gives a page (feeds.entries._page_dates): the plausible declared
    one, never later than its observation, else `fallback`."""
    return f"COALESCE(MIN({plausible_sql(column, observed)}, {observed}), {fallback})"


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
