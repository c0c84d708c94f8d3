"""Export rows in the shapes of the interface contract (docs/DESIGN.md §7), streamed."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import IO, Any

from pages.fields import EXPORTED_FIELDS

ARCHIVE_FIELDS = (
    "first_seen",
    "last_seen",
    "last_changed",
    "status",
    "version_count",
    "content_hash",
    "duplicate_of",
)
EXPORT_FIELDS = EXPORTED_FIELDS + ARCHIVE_FIELDS
CHANGE_FIELDS = (
    "id",
    "url",
    "kind",
    "lang",
    "change",
    "fields",
    "detected_at",
    "version",
    "previous_version",
    "moved_from",
    "diff",
    "flags",
)


def page_record(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row.get(name) for name in EXPORT_FIELDS}


def change_record(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row.get(name) for name in CHANGE_FIELDS}


def write_export(records: Iterator[dict[str, Any]], fmt: str, out: IO[str]) -> int:
    """ndjson (one object per line), json (one array, streamed) or csv (JSON in list cells)."""
    count = 0
    if fmt == "ndjson":
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    elif fmt == "json":
        out.write("[")
        for record in records:
            out.write(("," if count else "") + "\n" + json.dumps(record, ensure_ascii=False))
            count += 1
        out.write("\n]\n")
    elif fmt == "csv":
        writer = None
        for record in records:
            if writer is None:
                writer = csv.DictWriter(out, fieldnames=list(record), lineterminator="\n")
                writer.writeheader()
            writer.writerow(
                {
                    k: json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v
                    for k, v in record.items()
                }
            )
            count += 1
        if writer is None:
            out.write(",".join(EXPORT_FIELDS) + "\n")
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    return count
