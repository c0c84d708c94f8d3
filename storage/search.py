"""Ranked full-text search over the current text of live pages (FTS5 `pages_fts`, rowid = page id).

What a query means (FTS5 syntax, or plain words retried as phrases) is decided in
`aaltowatch.core.query`; this module runs it against the archive.
"""

from __future__ import annotations

from typing import Any

from aaltowatch.core.query import fts_query
from storage.connection import Store

# Title hits matter most, then the lead; bm25 weights follow the pages_fts column order
# (aaltowatch.core.query.COLUMNS).
WEIGHTS = (10.0, 3.0, 1.0)
MARK = "**"
SNIPPET_TOKENS = 16

# Phase 1 ranks the matches and keeps `limit` page ids; phase 2 builds snippets for those only,
# so snippet() never runs over every match. CROSS JOIN keeps FTS as the driving table: the
# planner must not walk pages by (kind, lang) and probe the index once per page.
_RANKED = """
    SELECT pages_fts.rowid AS id, bm25(pages_fts, {weights}) AS rank
    FROM pages_fts CROSS JOIN pages p ON p.id = pages_fts.rowid
    WHERE pages_fts MATCH :query AND p.status = 'live' {filters}
    ORDER BY rank LIMIT :limit
"""
_HITS = """
    SELECT p.url, v.title, p.kind, p.lang, v.published, top.rank,
        snippet(pages_fts, -1, :mark, :mark, '…', :tokens) AS snippet
    FROM ({ranked}) AS top
    CROSS JOIN pages_fts ON pages_fts.rowid = top.id
    JOIN pages p ON p.id = top.id
    LEFT JOIN versions v ON v.page_id = p.id AND v.version = p.current_version
    WHERE pages_fts MATCH :query
    ORDER BY top.rank, p.url
"""


_COUNT = """
    SELECT COUNT(*) FROM pages_fts CROSS JOIN pages p ON p.id = pages_fts.rowid
    WHERE pages_fts MATCH :query AND p.status = 'live' {filters}
"""


def _filters(lang: str | None, kind: str | None) -> tuple[str, dict[str, Any]]:
    filters, params = "", {}
    if lang:
        filters += " AND p.lang = :lang"
        params["lang"] = lang
    if kind:
        filters += " AND p.kind = :kind"
        params["kind"] = kind
    return filters, params


class SearchStore(Store):
    """Ranked full-text search over live pages (table pages_fts)."""

    def pages(
        self,
        query: str,
        *,
        lang: str | None = None,
        kind: str | None = None,
        limit: int = 20,
    ) -> list[dict[str, Any]]:
        """Best matches first (bm25, lower rank is better) with `**`-marked snippets."""
        match = fts_query(query)
        filters, params = _filters(lang, kind)
        params.update(limit=max(1, int(limit)), mark=MARK, tokens=SNIPPET_TOKENS)
        ranked = _RANKED.format(weights=", ".join(map(str, WEIGHTS)), filters=filters)
        sql = _HITS.format(ranked=ranked)
        return self._run(sql, {**params, "query": match})

    def count_matches(self, query: str, *, lang: str | None = None, kind: str | None = None) -> int:
        """How many live pages match (what `search` would list without a limit)."""
        filters, params = _filters(lang, kind)
        sql = _COUNT.format(filters=filters)
        return int(self.conn.execute(sql, {**params, "query": fts_query(query)}).fetchone()[0])

    def _run(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        return [dict(row) for row in self.conn.execute(sql, params)]
