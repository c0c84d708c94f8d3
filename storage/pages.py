"""Pages, their versions and change events: what the pipeline's history writes and reads.

`archive.pages`: the store of tables pages, versions, changes (and pages_fts); writes join
the caller's per-page transaction.
"""

from __future__ import annotations

from typing import Any

from storage.connection import Store
from storage.rows import _dumps


class PageStore(Store):
    """Pages, versions and change events: the writes of a page's history, and lookups."""

    # -- pages, versions, changes ------------------------------------------------------------
    def page(self, url: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM pages WHERE url = ?", (url,))

    def page_by_id(self, page_id: int) -> dict[str, Any] | None:
        return self._one("SELECT * FROM pages WHERE id = ?", (page_id,))

    def known_urls(self, kind: str | None = None, status: str = "live") -> list[str]:
        if kind:
            rows = self.conn.execute(
                "SELECT url FROM pages WHERE status = ? AND kind = ? ORDER BY url", (status, kind)
            )
        else:
            rows = self.conn.execute(
                "SELECT url FROM pages WHERE status = ? ORDER BY url", (status,)
            )
        return [r[0] for r in rows]

    def count_pages(self, kind: str | None = None, status: str = "live") -> int:
        sql, params = "SELECT COUNT(*) FROM pages WHERE status = ?", [status]
        if kind:
            sql, params = sql + " AND kind = ?", [status, kind]
        return int(self.conn.execute(sql, params).fetchone()[0])

    def version(self, page_id: int, version: int | None = None) -> dict[str, Any] | None:
        if version is None:
            return self._one(
                "SELECT * FROM versions WHERE page_id = ? ORDER BY version DESC LIMIT 1", (page_id,)
            )
        return self._one(
            "SELECT * FROM versions WHERE page_id = ? AND version = ?", (page_id, version)
        )

    def versions(self, page_id: int) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM versions WHERE page_id = ? ORDER BY version", (page_id,))

    def _insert(self, table: str, row: dict[str, Any]) -> int:
        """One row; lists and dicts are stored as JSON text. Column names come from code."""
        values = [_dumps(v) if isinstance(v, dict | list) else v for v in row.values()]
        marks = ", ".join("?" for _ in row)
        cur = self.conn.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks})", values)
        assert cur.lastrowid is not None  # an INSERT on a rowid table
        return cur.lastrowid

    def insert_page(self, row: dict[str, Any]) -> int:
        return self._insert("pages", row)

    def update_page(self, page_id: int, **values: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in values)
        params = [_dumps(v) if isinstance(v, dict | list) else v for v in values.values()]
        self.conn.execute(f"UPDATE pages SET {sets} WHERE id = ?", (*params, page_id))

    def duplicates_of(self, url: str, *, other_than: str | None) -> list[dict[str, Any]]:
        """Live pages marked as duplicates of `url` whose content hash is not `other_than`."""
        return self._all(
            "SELECT id, url, dup_hash FROM pages WHERE duplicate_of = ? AND status = 'live'"
            " AND (? IS NULL OR dup_hash IS NOT ?) ORDER BY url",
            (url, other_than, other_than),
        )

    def repoint_duplicates(self, old_url: str, new_url: str) -> None:
        self.conn.execute(
            "UPDATE pages SET duplicate_of = ? WHERE duplicate_of = ?", (new_url, old_url)
        )

    def retag_new_as_duplicate(self, page_id: int, run_id: int | None) -> None:
        self.conn.execute(
            "UPDATE changes SET change = 'duplicate' WHERE page_id = ? AND run_id IS ?"
            " AND change = 'new'",
            (page_id, run_id),
        )

    def discard_page(self, page_id: int) -> None:
        """Forget a page stored earlier in the current run (a 301 target seen before its 301)."""
        url = self.conn.execute("SELECT url FROM pages WHERE id = ?", (page_id,)).fetchone()[0]
        self.conn.execute("UPDATE pages SET duplicate_of = NULL WHERE duplicate_of = ?", (url,))
        self.conn.execute("DELETE FROM changes WHERE page_id = ?", (page_id,))
        self.conn.execute("DELETE FROM versions WHERE page_id = ?", (page_id,))
        self.conn.execute("DELETE FROM pages_fts WHERE rowid = ?", (page_id,))
        self.conn.execute("DELETE FROM pages WHERE id = ?", (page_id,))

    def add_version(self, row: dict[str, Any]) -> int:
        version_id = self._insert("versions", row)
        page_id = row["page_id"]
        # Keep full-text search on the current text, in the same transaction.
        if row["version"] > 1:
            self.conn.execute("DELETE FROM pages_fts WHERE rowid = ?", (page_id,))
        self.conn.execute(
            "INSERT INTO pages_fts (rowid, title, lead, body) VALUES (?, ?, ?, ?)",
            (page_id, row.get("title") or "", row.get("lead") or "", row.get("body") or ""),
        )
        return version_id

    def add_change(self, row: dict[str, Any]) -> int:
        return self._insert("changes", row)

    def changes_of_page(self, page_id: int) -> list[dict[str, Any]]:
        return self._all(
            "SELECT c.*, p.kind, p.lang FROM changes c JOIN pages p ON p.id = c.page_id"
            " WHERE c.page_id = ? ORDER BY c.id DESC",
            (page_id,),
        )

    def page_moved_from(self, url: str) -> dict[str, Any] | None:
        """The page that now lives elsewhere after a 301 from `url`."""
        return self._one(
            "SELECT * FROM pages WHERE id = (SELECT page_id FROM changes WHERE moved_from = ?"
            " ORDER BY id DESC LIMIT 1)",
            (url,),
        )

    def near_duplicate_candidates(
        self, bands: tuple[int, int, int, int], lang: str, exclude_id: int | None
    ) -> list[dict[str, Any]]:
        return self._all(
            "SELECT id, url, simhash FROM pages WHERE status = 'live' AND lang = ? AND id != ?"
            " AND (sh0 = ? OR sh1 = ? OR sh2 = ? OR sh3 = ?)",
            (lang, exclude_id or -1, *bands),
        )

    def live_pages_with_dup_hash(
        self, dup_hash: str, exclude_id: int | None
    ) -> list[dict[str, Any]]:
        return self._all(
            "SELECT id, url, duplicate_of FROM pages WHERE dup_hash = ? AND status = 'live'"
            " AND id != ? ORDER BY url",
            (dup_hash, exclude_id or -1),
        )
