"""Watches: the change events whose page matches a saved full-text query and filters.

A change is matched against the text of the version it produced (`versions_fts`, every version
indexed), not the page's text today: a page that mentioned Vantaa when it changed stays in the
Vantaa watch after the mention is edited away. A `modified` event also matches when the version
before it did, so the edit that removes the last mention reaches the watcher too.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Protocol

from aaltowatch.core.errors import AaltowatchError
from aaltowatch.core.query import fts_query
from storage.archive import Archive, _decode_row


class WatchQuery(Protocol):
    """What a watch asks of the archive (aaltowatch.core.watchconfig.Watch has these fields)."""

    query: str
    kinds: tuple[str, ...]
    langs: tuple[str, ...]
    categories: tuple[str, ...]
    changes: tuple[str, ...]


# Change ids whose version (or, for an edit, the version before it) matches the query.
_MATCHED = """
    SELECT c2.id FROM versions_fts
    JOIN versions v ON v.id = versions_fts.rowid
    JOIN changes c2 ON c2.page_id = v.page_id
        AND (v.version = c2.version OR (c2.change = 'modified' AND v.version = c2.previous_version))
    WHERE versions_fts MATCH :query
"""
_COLUMNS = (
    "c.id, c.url, p.kind, p.lang, c.change, c.fields, c.detected_at, c.version,"
    " c.previous_version, c.moved_from, c.diff, c.run_id, c.page_id, p.url AS page_url"
)


def _marks(prefix: str, values: tuple[str, ...], params: dict[str, Any]) -> str:
    names = []
    for i, value in enumerate(values):
        params[f"{prefix}{i}"] = value
        names.append(f":{prefix}{i}")
    return ", ".join(names)


def _where(
    watch: WatchQuery, params: dict[str, Any], after: int | None, unsent_for: int | None
) -> str:
    """The filters of the change feed (no duplicates) plus the watch's own."""
    params["query"] = fts_query(watch.query)
    where = [
        f"c.id IN ({_MATCHED})",
        "p.duplicate_of IS NULL AND c.change != 'duplicate'",
    ]
    if watch.kinds:
        where.append(f"p.kind IN ({_marks('kind', watch.kinds, params)})")
    if watch.langs:
        where.append(f"p.lang IN ({_marks('lang', watch.langs, params)})")
    if watch.changes:
        where.append(f"c.change IN ({_marks('change', watch.changes, params)})")
    if watch.categories:
        where.append(
            "EXISTS (SELECT 1 FROM versions cv, json_each(cv.categories) AS cat"
            " WHERE cv.page_id = c.page_id AND cv.version = c.version"
            f" AND cat.value IN ({_marks('cat', watch.categories, params)}))"
        )
    if after is not None:
        where.append("c.id > :after")
        params["after"] = after
    if unsent_for is not None:
        where.append(
            "NOT EXISTS (SELECT 1 FROM notifications n"
            " WHERE n.target_id = :target AND n.change_id = c.id)"
        )
        params["target"] = unsent_for
    return " AND ".join(where)


def _execute(archive: Archive, sql: str, params: dict[str, Any]) -> sqlite3.Cursor:
    try:
        return archive.conn.execute(sql, params)
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            raise AaltowatchError(
                f"{archive.path} predates watches: run `aaltowatch crawl` or `run --once`"
                " once to upgrade it"
            ) from None
        raise


def watch_changes(
    archive: Archive,
    watch: WatchQuery,
    *,
    limit: int | None = None,
    after: int | None = None,
    unsent_for: int | None = None,
    oldest_first: bool = False,
) -> list[dict[str, Any]]:
    """Matching change events shaped like `Archive.changes` rows, newest first by default.

    `after` keeps only events with a higher id; `unsent_for` drops events already claimed or
    sent to that notification target.
    """
    params: dict[str, Any] = {}
    sql = (
        f"SELECT {_COLUMNS} FROM changes c JOIN pages p ON p.id = c.page_id"
        f" WHERE {_where(watch, params, after, unsent_for)}"
        f" ORDER BY c.id {'ASC' if oldest_first else 'DESC'}"
    )
    if limit:
        sql += f" LIMIT {int(limit)}"
    rows = _execute(archive, sql, params).fetchall()
    return [_decode_row(row) for row in rows]  # type: ignore[misc]


def count_watch_changes(archive: Archive, watch: WatchQuery) -> int:
    params: dict[str, Any] = {}
    sql = (
        "SELECT COUNT(*) FROM changes c JOIN pages p ON p.id = c.page_id"
        f" WHERE {_where(watch, params, None, None)}"
    )
    return int(_execute(archive, sql, params).fetchone()[0])
