"""Read queries for the CLI, feeds and exports: changes, current pages, feed entries, totals.

`archive.queries`: reads over pages, versions and changes; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from storage.connection import Store
from storage.export import page_record
from storage.rows import CURRENT_VERSION_COLUMNS, _decode_row, feed_date_sql

# Newest first by the date the feed shows (an implausible declared date does not count).
_BY_FEED_DATE = feed_date_sql("v.published", "v.fetched_at", "p.first_seen")


def _where(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    """The AND of the conditions whose value is given (None or "" = no filter), and its params."""
    given = {sql: value for sql, value in filters.items() if value not in (None, "")}
    return " AND ".join(["1 = 1", *given]), list(given.values())


class ReadQueries(Store):
    """What the CLI, feeds, charts and exports read."""

    # -- queries for the CLI, feeds and exports ----------------------------------------------
    def changes(
        self,
        *,
        since: str | None = None,
        kind: str | None = None,
        lang: str | None = None,
        change: str | None = None,
        run_id: int | None = None,
        limit: int | None = None,
        include_duplicates: bool = True,
    ) -> list[dict[str, Any]]:
        where, params = _where(
            {
                "c.detected_at >= ?": since,
                "p.kind = ?": kind,
                "p.lang = ?": lang,
                "c.change = ?": change,
                "c.run_id = ?": run_id,
            }
        )
        if not include_duplicates:
            where += " AND p.duplicate_of IS NULL AND c.change != 'duplicate'"
        sql = (
            "SELECT c.id, c.url, p.kind, p.lang, c.change, c.fields, c.detected_at, c.version,"
            " c.previous_version, c.moved_from, c.diff, c.run_id, c.page_id, p.url AS page_url,"
            " c.flags"
            f" FROM changes c JOIN pages p ON p.id = c.page_id WHERE {where}"
            # With `since`, read the date index and sort what it finds; ordered by the id
            # alone, SQLite would rather walk every change backwards to skip the sort.
            f" ORDER BY {'+c.id' if since else 'c.id'} DESC"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self._all(sql, params)

    def current_pages(
        self,
        *,
        since: str | None = None,
        kind: str | None = None,
        lang: str | None = None,
        status: str | None = None,
        published_since: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Pages joined with their current version, streamed (exports can be large)."""
        where, params = _where(
            {
                "p.last_changed >= ?": since,
                "v.published >= ?": published_since,
                "p.kind = ?": kind,
                "p.lang = ?": lang,
                "p.status = ?": status,
            }
        )
        sql = (
            f"SELECT p.*, {CURRENT_VERSION_COLUMNS}"
            " FROM pages p LEFT JOIN versions v"
            " ON v.page_id = p.id AND v.version = p.current_version"
            f" WHERE {where} ORDER BY p.url"
        )
        for row in self.conn.execute(sql, params):
            yield _decode_row(row)  # type: ignore[misc]

    def export_pages(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Pages in the export's shape (storage.export): live and removed; an old URL whose page
        now lives on elsewhere (status `moved`) is not a page of its own, and §7 promises status
        live|removed only."""
        for row in self.current_pages(**filters):
            if row["status"] != "moved":
                yield page_record(row)

    def section_entries(self, kind: str, lang: str, limit: int) -> list[dict[str, Any]]:
        """Live, non-duplicate pages of one kind and language, newest published first."""
        return self._all(
            "SELECT p.url, p.id AS page_id, p.first_seen, p.last_changed, v.* FROM pages p"
            " JOIN versions v ON v.page_id = p.id AND v.version = p.current_version"
            " WHERE p.kind = ? AND p.lang = ? AND p.status = 'live' AND p.duplicate_of IS NULL"
            f" ORDER BY {_BY_FEED_DATE} DESC, p.url LIMIT ?",
            (kind, lang, limit),
        )

    def category_entries(self, category: str, limit: int) -> list[dict[str, Any]]:
        return self._all(
            "SELECT p.url, p.id AS page_id, p.lang, p.first_seen, p.last_changed, v.*"
            # CROSS JOIN: SQLite keeps this order, so the category's own rows drive the join.
            " FROM page_categories pc CROSS JOIN pages p ON p.id = pc.page_id"
            " JOIN versions v ON v.page_id = p.id AND v.version = p.current_version"
            " WHERE pc.category = ? AND p.status = 'live' AND p.duplicate_of IS NULL"
            f" ORDER BY {_BY_FEED_DATE} DESC, p.url LIMIT ?",
            (category, limit),
        )

    def totals(self) -> dict[str, Any]:
        """Pages, versions and change events by kind: the archive at a glance."""
        one = self.conn.execute
        # Versions and changes from what the pages and the weekly totals keep: no table that
        # grows with the archive's age is counted row by row.
        return {
            "pages": one("SELECT COUNT(*) FROM pages").fetchone()[0],
            "versions": one("SELECT COALESCE(SUM(version_count), 0) FROM pages").fetchone()[0],
            "changes": dict(
                one(
                    "SELECT change, SUM(count) FROM changes_weekly GROUP BY change"
                    " HAVING SUM(count) > 0"
                ).fetchall()
            ),
        }

    def categories(self, limit: int | None = None) -> list[str]:
        """Categories of live pages by name; with `limit`, only the ones with most pages."""
        rows = self.conn.execute(
            "SELECT category FROM page_categories GROUP BY 1 ORDER BY COUNT(*) DESC, 1 LIMIT ?",
            (-1 if limit is None else limit,),
        )
        return sorted(r[0] for r in rows)
