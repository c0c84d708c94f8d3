"""Watches: each change event matched once, the matches stored (`watch_matches`).

`archive.watches.sync` runs after every crawl (and before feeds and notifications): the events
recorded since a watch's cursor are matched in one pass, so a run's watch cost is its new events,
not the archive's age. What an event is matched against and whether a match is pushed are pure
decisions (aaltowatch.core.watchmatch); here they are applied with a temporary FTS5 table that
holds only the batch's documents, so the query means exactly what `search` makes of it.

A new watch, or one whose query or filters changed (its `spec`), is matched over the archive's
history newest first, a bounded share per call (events and CPU), resumable from its cursor. Those
matches are the baseline: in the feed, never pushed.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aaltowatch.core import watchmatch as wm
from aaltowatch.core.errors import AaltowatchError
from aaltowatch.core.query import COLUMNS, TOKENIZE, fts_query
from aaltowatch.core.text import utc_now
from aaltowatch.core.urls import SPIDER_NAMES
from aaltowatch.core.watchconfig import Watch
from storage.connection import Store
from storage.rows import _decode_row

log = logging.getLogger(__name__)

CHUNK = 500  # events matched per transaction
# History matched per call (a run), over all watches: whichever bound is reached first. A rare
# word is cheap to match (the archive's index rules most events out), a common one is not.
BACKFILL_EVENTS = 50_000
BACKFILL_CPU_S = 1.0
SNIPPET_TOKENS = 16

_EVENTS = f"""
    SELECT c.id, c.change, c.run_id, p.kind, p.lang, v.published, v.categories,
        v.id AS version_id, pv.id AS previous_id,
        {", ".join(f"v.{c}" for c in COLUMNS)}, {", ".join(f"pv.{c} AS old_{c}" for c in COLUMNS)}
    FROM changes c JOIN pages p ON p.id = c.page_id
    LEFT JOIN versions v ON v.page_id = c.page_id
        AND v.version = COALESCE(c.version, c.previous_version)
    LEFT JOIN versions pv ON c.change = 'modified' AND pv.page_id = c.page_id
        AND pv.version = c.previous_version
    WHERE c.change != 'duplicate' AND {{range}}
    ORDER BY c.id {{order}} LIMIT {{limit}}
"""
# A match as `archive.queries.changes` rows are (feeds.entries.change_entry reads them).
_CHANGE_COLUMNS = (
    "c.id, c.url, p.kind, p.lang, c.change, c.fields, c.detected_at, c.version,"
    " c.previous_version, c.moved_from, c.diff, c.run_id, c.page_id, p.url AS page_url, c.flags"
)
_COLUMNS = f"{_CHANGE_COLUMNS}, m.snippet, m.pushable"


@dataclass
class SyncReport:
    """What one matching pass did: events matched as they came, history matched, per watch."""

    matched: dict[str, int] = field(default_factory=dict)
    events: int = 0
    backfilled: int = 0


def create_docs_table(conn: sqlite3.Connection) -> None:
    """The connection's own full-text table of one batch's documents (temp: never in the
    archive, gone with the connection)."""
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.watch_docs USING fts5({', '.join(COLUMNS)},"
        f" tokenize={TOKENIZE!r})"
    )


def _snippets(table: str) -> str:
    """SQL of an FTS5 table's snippet of each column (title, lead, body), match marked."""
    return ", ".join(
        f"snippet({table}, {i}, :open, :close, '…', :tokens)" for i in range(len(COLUMNS))
    )


def _best(snippets: Sequence[str]) -> str:
    """The first column (title, lead, body) with a highlighted hit, as FTS5's own pick (-1)
    may show a column without one when a column filter is in the query."""
    return next((s for s in snippets if wm.MARK_OPEN in s), max(snippets, key=len))


def backfill_progress(state: dict[str, Any]) -> tuple[int, int]:
    """(events of history matched, events of history) of a watch_state row, by event id."""
    total = int(state["live_from"])
    return total - max(int(state["backfill_below"]) - 1, 0), total


# An ad-hoc search (serve's /search.xml) stores nothing and may not write: it asks the index of
# every version (`versions_fts`) for the newest events whose version, or an edit's previous
# version, the query matches. A query with few hits looks up only their events (by id, newest
# first); any other walks the events newest first until `limit` match. So neither a rare word
# nor a common one reads more of the history than its answer needs. (pv is joined before v so
# that SQLite checks the match before a category filter on v.)
FEW_HITS = 5000
_VERSION_HITS = "SELECT rowid FROM versions_fts WHERE versions_fts MATCH :query"
_SEARCH = f"""
    WITH hits(id) AS MATERIALIZED ({_VERSION_HITS})
    SELECT {_CHANGE_COLUMNS}, v.id AS version_id, pv.id AS previous_id
    FROM changes c CROSS JOIN pages p ON p.id = c.page_id
    LEFT JOIN versions pv ON c.change = 'modified' AND pv.page_id = c.page_id
        AND pv.version = c.previous_version
    LEFT JOIN versions v ON v.page_id = c.page_id
        AND v.version = COALESCE(c.version, c.previous_version)
    WHERE c.change != 'duplicate' AND p.duplicate_of IS NULL
        AND (v.id IN hits OR pv.id IN hits){{events}}{{filters}}
    ORDER BY c.id DESC LIMIT :limit
"""
# The events of the hits, for a query with few: the same rule as above, from the versions' side.
_HIT_EVENTS = """ AND c.id IN (
        SELECT hc.id FROM hits JOIN versions h ON h.id = hits.id
        JOIN changes hc ON hc.page_id = h.page_id
            AND (h.version = COALESCE(hc.version, hc.previous_version)
                OR (hc.change = 'modified' AND h.version = hc.previous_version)))"""
# wm.passes_filters in SQL, so that LIMIT counts only the events that pass.
_FILTERS = {
    "kinds": "p.kind IN (SELECT value FROM json_each(:kinds))",
    "langs": "p.lang IN (SELECT value FROM json_each(:langs))",
    "changes": "c.change IN (SELECT value FROM json_each(:changes))",
    "categories": "EXISTS (SELECT 1 FROM json_each(v.categories) AS cat"
    " WHERE cat.value IN (SELECT value FROM json_each(:categories)))",
}


class WatchStore(Store):
    """Watches' cursors and stored matches (tables watch_state, watch_matches)."""

    def _top(self) -> int:
        return int(self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM changes").fetchone()[0])

    def _execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, params)
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                raise AaltowatchError(
                    f"{self.path} predates stored watch matches: run `aaltowatch crawl` or"
                    " `run --once` once to upgrade it"
                ) from None
            raise

    def state(self, watch: Watch) -> dict[str, Any]:
        """The watch's cursors, first recorded (or reset, when its spec changed) now: the events
        recorded from now on are matched as they come, the history before is backfilled."""
        with self.transaction():
            row = self.conn.execute(
                "SELECT * FROM watch_state WHERE watch = ?", (watch.name,)
            ).fetchone()
            if row is not None and row["spec"] == watch.spec:
                return dict(row)
            top, now = self._top(), utc_now()
            if row is not None:  # a new query or filters: its old matches no longer hold
                self.conn.execute("DELETE FROM watch_matches WHERE watch = ?", (watch.name,))
            self.conn.execute(
                "INSERT OR REPLACE INTO watch_state"
                " (watch, spec, since, live_from, matched_to, backfill_below, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (watch.name, watch.spec, now, top, top, top + 1, now),
            )
        return dict(
            self.conn.execute("SELECT * FROM watch_state WHERE watch = ?", (watch.name,)).fetchone()
        )

    def register(self, watches: Sequence[Watch]) -> None:
        """Record watches before a crawl, so a new watch gets the crawl's own events as news."""
        for watch in watches:
            self.state(watch)

    def _first_runs(self) -> set[int]:
        """The archive's first crawl: the first run of each spider (one index lookup each)."""
        first = (
            self.conn.execute("SELECT MIN(id) FROM runs WHERE spider = ?", (name,)).fetchone()[0]
            for name in SPIDER_NAMES
        )
        return {int(run_id) for run_id in first if run_id is not None}

    def _load_docs(self, events: list[dict[str, Any]], watches: Sequence[Watch]) -> None:
        """The batch's documents, only those a watch will be run against: an event's page, an
        edit's trigger text; rowid = 2 * change id (+1 for the trigger text)."""
        conn = self.conn
        create_docs_table(conn)
        conn.execute("DELETE FROM temp.watch_docs")
        rows = []
        for event in events:
            scopes = {wm.scope_for(w, event["change"]) for w in watches}
            page = [wm.unmarked(event[c]) for c in COLUMNS]
            if wm.PAGE in scopes:
                rows.append((2 * event["id"], *page))
            if wm.CHANGED in scopes:
                old = {c: wm.unmarked(event[f"old_{c}"]) for c in COLUMNS}
                trigger = wm.trigger_text(old, dict(zip(COLUMNS, page, strict=True)))
                rows.append((2 * event["id"] + 1, *(trigger[c] for c in COLUMNS)))
        marks = ", ".join("?" * (len(COLUMNS) + 1))
        conn.executemany(
            f"INSERT INTO temp.watch_docs (rowid, {', '.join(COLUMNS)}) VALUES ({marks})", rows
        )

    def _hits(self, watch: Watch) -> dict[int, str]:
        """rowid -> snippet of the batch's documents the watch's query matches."""
        rows = self.conn.execute(
            f"SELECT rowid, {_snippets('watch_docs')} FROM temp.watch_docs WHERE watch_docs MATCH"
            " :query",
            {"open": wm.MARK_OPEN, "close": wm.MARK_CLOSE, "tokens": SNIPPET_TOKENS,
             "query": fts_query(watch.query)},
        )  # fmt: skip
        return {int(row[0]): _best(row[1:]) for row in rows}

    def _match_batch(
        self,
        events: list[dict[str, Any]],
        watches: list[tuple[Watch, dict[str, Any]]],
        *,
        live: bool,
        first_runs: set[int],
    ) -> dict[str, int]:
        """Store the matches of `events` for each (watch, state) it concerns; matches found live
        are pushable by the baseline rule, history never is."""
        self._load_docs(events, [w for w, _ in watches])
        now, counts = utc_now(), {}
        for watch, state in watches:
            hits = self._hits(watch)
            rows = []
            for event in events:
                if live and event["id"] <= state["matched_to"]:
                    continue
                if not live and event["id"] >= state["backfill_below"]:
                    continue
                rowid = 2 * event["id"] + (wm.scope_for(watch, event["change"]) == wm.CHANGED)
                if rowid not in hits or not wm.passes_filters(watch, event):
                    continue
                push = live and wm.pushable(
                    event["change"],
                    first_crawl=event["run_id"] in first_runs,
                    published=event["published"],
                    watch_since=state["since"],
                )
                rows.append((watch.name, event["id"], hits[rowid], now, int(push)))
            self.conn.executemany(
                "INSERT OR REPLACE INTO watch_matches"
                " (watch, change_id, snippet, matched_at, pushable) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            counts[watch.name] = len(rows)
        return counts

    def _events(self, where: str, order: str, params: tuple, limit: int) -> list[dict[str, Any]]:
        sql = _EVENTS.format(range=where, order=order, limit=int(limit))
        events = [dict(r) for r in self.conn.execute(sql, params)]
        for event in events:
            event["categories"] = json.loads(event["categories"] or "[]")
        return events

    def _forward(
        self, states: dict[str, Any], watches: Sequence[Watch], report: SyncReport
    ) -> None:
        first_runs = self._first_runs()
        top = self._top()
        while True:
            behind = [(w, states[w.name]) for w in watches if states[w.name]["matched_to"] < top]
            if not behind:
                return
            low = min(s["matched_to"] for _, s in behind)
            with self.transaction():
                events = self._events("c.id > ? AND c.id <= ?", "ASC", (low, top), CHUNK)
                counts = self._match_batch(events, behind, live=True, first_runs=first_runs)
                upto = events[-1]["id"] if len(events) == CHUNK else top
                for watch, state in behind:
                    state["matched_to"] = max(state["matched_to"], upto)
                    self.conn.execute(
                        "UPDATE watch_state SET matched_to = ?, updated_at = ? WHERE watch = ?",
                        (state["matched_to"], utc_now(), watch.name),
                    )
                    report.matched[watch.name] = (
                        report.matched.get(watch.name, 0) + counts[watch.name]
                    )
            report.events += len(events)

    def _candidates(self, watch: Watch, events: list[dict[str, Any]]) -> set[int]:
        """History only: the events whose version, or an edit's previous version, the query
        matches in the archive's own index. No other event can match (its changed words are words
        of one of them), so only these are loaded and diffed. A NOT query is not narrowed: the
        changed words may lack what both versions have."""
        query = fts_query(watch.query)
        if "NOT" in query.split():
            return {e["id"] for e in events}
        ids = sorted({i for e in events for i in (e["version_id"], e["previous_id"]) if i})
        if not ids:
            return set()
        hits = {
            int(r[0])
            for r in self.conn.execute(
                "SELECT rowid FROM versions_fts WHERE versions_fts MATCH ?"
                f" AND rowid IN ({', '.join('?' * len(ids))})",
                (query, *ids),
            )
        }
        return {e["id"] for e in events if e["version_id"] in hits or e["previous_id"] in hits}

    def _backfill(
        self,
        states: dict[str, Any],
        watches: Sequence[Watch],
        budget: int,
        cpu_s: float,
        report: SyncReport,
    ) -> None:
        deadline = time.process_time() + cpu_s
        for watch in watches:
            state = states[watch.name]
            while (
                state["backfill_below"] > 1
                and report.backfilled < budget
                and time.process_time() < deadline
            ):
                with self.transaction():
                    limit = min(CHUNK, budget - report.backfilled)
                    events = self._events("c.id < ?", "DESC", (state["backfill_below"],), limit)
                    wanted = self._candidates(watch, events)
                    counts = self._match_batch(
                        [e for e in events if e["id"] in wanted],
                        [(watch, state)],
                        live=False,
                        first_runs=set(),
                    )
                    below = events[-1]["id"] if len(events) == limit else 0
                    state["backfill_below"] = below
                    self.conn.execute(
                        "UPDATE watch_state SET backfill_below = ?, updated_at = ? WHERE watch = ?",
                        (below, utc_now(), watch.name),
                    )
                report.backfilled += len(events)
                report.matched[watch.name] = report.matched.get(watch.name, 0) + counts[watch.name]
            if state["backfill_below"] > 1:
                done, total = backfill_progress(state)
                log.info(
                    "watch %s: matching history, %d of %d events (%d%%); continued next run",
                    watch.name, done, total, 100 * done // max(total, 1),
                )  # fmt: skip

    def sync(
        self,
        watches: Sequence[Watch],
        *,
        backfill_events: int = BACKFILL_EVENTS,
        backfill_cpu_s: float = BACKFILL_CPU_S,
    ) -> SyncReport:
        """Match every event recorded since each watch's cursor, then the history of new (or
        changed) watches, up to `backfill_events` or `backfill_cpu_s` seconds of CPU, whichever
        comes first. Needs a writable archive."""
        report = SyncReport()
        if not watches:
            return report
        states = {w.name: self.state(w) for w in watches}
        self._forward(states, watches, report)
        self._backfill(states, watches, backfill_events, backfill_cpu_s, report)
        return report

    def stored_state(self, watch: Watch) -> dict[str, Any] | None:
        """The watch's cursors as stored, or None when its current spec was never matched."""
        row = self._execute("SELECT * FROM watch_state WHERE watch = ?", (watch.name,)).fetchone()
        return dict(row) if row is not None and row["spec"] == watch.spec else None

    def changes(
        self,
        watch: Watch,
        *,
        limit: int | None = None,
        after: int | None = None,
        unsent_for: int | None = None,
        pushed_only: bool = False,
        oldest_first: bool = False,
    ) -> list[dict[str, Any]]:
        """The watch's stored matches as `archive.queries.changes` rows (plus `snippet`,
        `pushable`), newest first by default; pages that became duplicates are left out, as in the
        change feed.

        `pushed_only` keeps the matches that are news (not the baseline); `after` keeps higher
        event ids; `unsent_for` drops events already claimed or sent to that notification target.
        """
        where = ["m.watch = :watch", "p.duplicate_of IS NULL"]
        params: dict[str, Any] = {"watch": watch.name}
        if pushed_only:
            where.append("m.pushable = 1")
        if after is not None:
            where.append("m.change_id > :after")
            params["after"] = after
        if unsent_for is not None:
            where.append(
                "NOT EXISTS (SELECT 1 FROM notifications n"
                " WHERE n.target_id = :target AND n.change_id = m.change_id)"
            )
            params["target"] = unsent_for
        sql = (
            f"SELECT {_COLUMNS} FROM watch_matches m"
            " JOIN changes c ON c.id = m.change_id JOIN pages p ON p.id = c.page_id"
            f" WHERE {' AND '.join(where)}"
            f" ORDER BY m.change_id {'ASC' if oldest_first else 'DESC'}"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        if self.stored_state(watch) is None:
            return []  # its matches (if any) are of another query
        return [_decode_row(row) for row in self._execute(sql, params)]  # type: ignore[misc]

    def count_changes(self, watch: Watch) -> int:
        if self.stored_state(watch) is None:
            return 0
        return int(
            self._execute(
                "SELECT COUNT(*) FROM watch_matches m JOIN changes c ON c.id = m.change_id"
                " JOIN pages p ON p.id = c.page_id WHERE m.watch = ? AND p.duplicate_of IS NULL",
                (watch.name,),
            ).fetchone()[0]
        )

    def search(self, watch: Watch, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` events the watch's query and filters match, as `changes` rows
        (with `snippet`), read-only. Unlike a stored match, an edit matches by either version's
        whole text: a search asks what the archive holds, not what is news."""
        params: dict[str, Any] = {"query": fts_query(watch.query), "limit": max(1, int(limit))}
        filters = ""
        for name, sql in _FILTERS.items():
            if getattr(watch, name):
                filters += f" AND {sql}"
                params[name] = json.dumps(getattr(watch, name))
        hits = self._execute(f"{_VERSION_HITS} LIMIT {FEW_HITS + 1}", params).fetchall()
        events = _HIT_EVENTS if len(hits) <= FEW_HITS else ""
        sql = _SEARCH.format(events=events, filters=filters)
        cursor = self._execute(sql, params)
        rows: list[dict[str, Any]] = [_decode_row(r) for r in cursor]  # type: ignore[misc]
        snippets = self._version_snippets(
            params["query"], {i for r in rows for i in (r["version_id"], r["previous_id"])}
        )
        for row in rows:
            version, previous = row.pop("version_id"), row.pop("previous_id")
            row["snippet"] = snippets.get(version) or snippets.get(previous) or ""
        return rows

    def _version_snippets(self, query: str, ids: set[int | None]) -> dict[int, str]:
        """version id -> snippet of those `ids` the query matches. Stored text may hold the
        marker characters, so FTS5 marks with tokens of this call's own, made markers after."""
        nonce = secrets.token_hex(8)
        open_, close = f"<{nonce}<", f">{nonce}>"
        rows = self.conn.execute(
            f"SELECT rowid, {_snippets('versions_fts')} FROM versions_fts"
            " WHERE versions_fts MATCH :query AND rowid IN (SELECT value FROM json_each(:ids))",
            {"open": open_, "close": close, "tokens": SNIPPET_TOKENS, "query": query,
             "ids": json.dumps(sorted(i for i in ids if i))},
        )  # fmt: skip
        return {int(row[0]): _best([wm.marked(s, open_, close) for s in row[1:]]) for row in rows}

    def compact_matches(self) -> int:
        """Rewrite `watch_matches` in key order (for `prune`); returns its rows. Matches arrive at
        the end of each watch's range (or newest first, in a backfill), so every page split leaves
        a half-full page behind: written in order, the table takes about half the space."""
        with self.transaction():
            conn = self.conn
            conn.execute("CREATE TEMP TABLE compacted AS SELECT * FROM watch_matches")
            conn.execute("DELETE FROM watch_matches")
            rows = conn.execute(
                "INSERT INTO watch_matches SELECT * FROM temp.compacted ORDER BY watch, change_id"
            ).rowcount
            conn.execute("DROP TABLE temp.compacted")
            conn.execute("REINDEX watch_matches_pushable")
        return rows
