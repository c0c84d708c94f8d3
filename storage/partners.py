"""Partner registry storage: what the registry is built from, its rebuild, and its queries.

The registry is derived data (pipeline.partners decides it from the pages), so a refresh
replaces it whole in one transaction; feeds and views read it alongside the pages.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from aaltowatch.core.errors import AaltowatchError
from storage.connection import Store
from storage.rows import _decode_row

PARTNER_COLUMNS = ("id", "name", "names", "aliases", "match", "first_seen", "last_seen", "status")


class PartnerStore(Store):
    """The partner registry (tables partners, partner_pages) and what it is built from."""

    def pages(self) -> list[dict[str, Any]]:
        """Partnership pages that stand for themselves (not duplicates, not old URLs of a move)."""
        return self._all(
            "SELECT p.id, p.url, p.lang, p.status, p.first_seen, p.last_seen, v.title,"
            " v.translations, v.raw_sha256, f.content_type"
            " FROM pages p LEFT JOIN versions v"
            " ON v.page_id = p.id AND v.version = p.current_version"
            " LEFT JOIN fetches f ON f.url = p.url"
            " WHERE p.kind = 'partnership' AND p.status != 'moved' AND p.duplicate_of IS NULL"
            " ORDER BY p.id"
        )

    def replace(self, partners: list[Any]) -> None:
        """Swap in a freshly built registry (pipeline.partners.Partner objects)."""
        with self.transaction():
            self.conn.execute("DELETE FROM partner_pages")
            self.conn.execute("DELETE FROM partners")
            for partner in partners:
                values = [getattr(partner, c) for c in PARTNER_COLUMNS]
                self.conn.execute(
                    f"INSERT INTO partners ({', '.join(PARTNER_COLUMNS)})"
                    f" VALUES ({', '.join('?' for _ in PARTNER_COLUMNS)})",
                    [json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
                     for v in values],
                )  # fmt: skip
                self.conn.executemany(
                    "INSERT INTO partner_pages (page_id, partner_id, lang, name, name_source)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [(m.page_id, partner.id, m.lang, m.name, m.source) for m in partner.pages],
                )

    def _registry_rows(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        try:
            return self._all(sql, params)
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc) or "no such view" in str(exc):
                raise AaltowatchError(
                    "this archive has no partner registry yet: run `aaltowatch partners --refresh`"
                ) from None
            raise

    def all(self) -> list[dict[str, Any]]:
        """Every partner with its pages {lang: [url]} and news mentions {month: count}."""
        rows = self._registry_rows("SELECT * FROM partners ORDER BY name, id")
        pages = self._registry_rows(
            "SELECT pp.partner_id, pp.lang, p.url, p.status, pp.name, pp.name_source"
            " FROM partner_pages pp JOIN pages p ON p.id = pp.page_id ORDER BY pp.lang, p.url",
        )
        mentions = self._registry_rows(
            "SELECT partner_id, month, SUM(count) AS count FROM partner_mentions_by_month"
            " GROUP BY partner_id, month ORDER BY month",
        )
        for row in rows:
            row["pages"] = [
                {k: p[k] for k in ("lang", "url", "status", "name", "name_source")}
                for p in pages
                if p["partner_id"] == row["id"]
            ]
            row["mentions_by_month"] = {
                m["month"]: m["count"] for m in mentions if m["partner_id"] == row["id"]
            }
            row["mentions"] = sum(row["mentions_by_month"].values())
        return rows

    def changes(self, limit: int) -> list[dict[str, Any]]:
        """Change events on partners' pages, newest first, with the partner and its first change."""
        return [
            _decode_row(r)  # type: ignore[misc]
            for r in self.conn.execute(
                "SELECT c.id, c.url, p.kind, p.lang, c.change, c.fields, c.detected_at, c.version,"
                " c.previous_version, c.moved_from, c.diff, c.run_id, c.page_id, c.flags,"
                " pa.id AS partner_id, pa.name AS partner, pa.status AS partner_status,"
                " (SELECT MIN(c2.id) FROM changes c2 JOIN partner_pages pp2"
                "  ON pp2.page_id = c2.page_id WHERE pp2.partner_id = pa.id)"
                " AS partner_first_change"
                " FROM changes c JOIN partner_pages pp ON pp.page_id = c.page_id"
                " JOIN partners pa ON pa.id = pp.partner_id JOIN pages p ON p.id = c.page_id"
                " WHERE c.change != 'duplicate' ORDER BY c.id DESC LIMIT ?",
                (limit,),
            )
        ]
