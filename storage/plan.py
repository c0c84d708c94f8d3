"""The crawl planner's side of the archive: checks, their per-page summary, the queue, cursors.

`archive.plan`: the store of tables checks, check_stats, crawl_queue and crawl_state, one
concept: what the planner learns from and what a killed run leaves for the next one.
"""

from __future__ import annotations

import json
from typing import Any

from aaltowatch.core.items import CheckOutcome
from aaltowatch.core.text import parse_utc
from storage.connection import Store

# Intervals that ended in a change kept per page: enough for the estimator, bounded in size.
CHANGED_INTERVALS_KEPT = 16


def _days_between(earlier: str, later: str) -> float:
    span = parse_utc(later) - parse_utc(earlier)  # type: ignore[operator]  # stored, so valid
    return max(span.total_seconds() / 86400.0, 0.0)


class PlanStore(Store):
    """Checks and their per-page summary, the crawl queue, listing cursors."""

    def has_checks(self) -> bool:
        """False for an archive opened read-only before migration 0004 reached it."""
        return bool(
            self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'checks'"
            ).fetchone()
        )

    # -- checks ----------------------------------------------------------------------------
    def add_check(
        self,
        url: str,
        outcome: CheckOutcome,
        *,
        run_id: int | None,
        checked_at: str,
        http_status: int | None = None,
        page_id: int | None = None,
    ) -> None:
        """One check and its page's summary; joins the caller's (the page's) transaction.

        A verifying check also takes the URL off the crawl queue: the plan is done with it.
        """
        with self.transaction():
            if page_id is None:
                row = self.conn.execute("SELECT id FROM pages WHERE url = ?", (url,)).fetchone()
                page_id = row[0] if row else None
            self.conn.execute(
                "INSERT INTO checks (page_id, url, run_id, checked_at, outcome, http_status)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (page_id, url, run_id, checked_at, outcome.value, http_status),
            )
            if outcome.verified:
                self.conn.execute("DELETE FROM crawl_queue WHERE url = ?", (url,))
            if page_id is not None:
                self._update_check_stats(page_id, outcome, checked_at)

    def _update_check_stats(self, page_id: int, outcome: CheckOutcome, now: str) -> None:
        row = self.conn.execute(
            "SELECT last_checked, checks, changes, unchanged_days, changed_intervals"
            " FROM check_stats WHERE page_id = ?",
            (page_id,),
        ).fetchone()
        if not outcome.verified:
            self.conn.execute(
                "INSERT INTO check_stats (page_id, last_attempt) VALUES (?, ?)"
                " ON CONFLICT(page_id) DO UPDATE SET last_attempt = excluded.last_attempt",
                (page_id, now),
            )
            return
        last, checks, changes, unchanged, intervals = row if row else (None, 0, 0, 0.0, "[]")
        changed_intervals = json.loads(intervals)
        if last is not None and outcome is not CheckOutcome.NEW:
            days = _days_between(last, now)
            if outcome.changed:
                changed_intervals = [*changed_intervals, round(days, 6)][-CHANGED_INTERVALS_KEPT:]
                changes += 1
            else:
                unchanged += days
        self.conn.execute(
            "INSERT INTO check_stats (page_id, last_checked, last_attempt, checks, changes,"
            " unchanged_days, changed_intervals) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(page_id) DO UPDATE SET last_checked = excluded.last_checked,"
            " last_attempt = excluded.last_attempt, checks = excluded.checks,"
            " changes = excluded.changes, unchanged_days = excluded.unchanged_days,"
            " changed_intervals = excluded.changed_intervals",
            (page_id, now, now, checks + 1, changes, unchanged, json.dumps(changed_intervals)),
        )

    def fold_checks(self, page_id: int, *, into: int) -> None:
        """A page about to be discarded (a 301 target stored before its 301): its checks
        belong to the page whose history continues."""
        self.conn.execute("UPDATE checks SET page_id = ? WHERE page_id = ?", (into, page_id))
        # Its summary's counts go along, so the summary still counts the checks it lists.
        self.conn.execute(
            "UPDATE check_stats SET checks = check_stats.checks + f.checks,"
            " changes = check_stats.changes + f.changes"
            " FROM (SELECT checks, changes FROM check_stats WHERE page_id = ?) AS f"
            " WHERE check_stats.page_id = ?",
            (page_id, into),
        )
        self.conn.execute("DELETE FROM check_stats WHERE page_id = ?", (page_id,))

    def count_checks(self, page_id: int) -> int:
        """Every check of a page, unverified attempts (errors, redirects) included."""
        row = self.conn.execute("SELECT COUNT(*) FROM checks WHERE page_id = ?", (page_id,))
        return int(row.fetchone()[0])

    def prune_checks(self, before: str) -> int:
        """Drop checks made before `before`: their page's summary (check_stats) already holds
        what the planner needs. A never-stored URL's last 404/301 stays: it settles the URL."""
        with self.transaction():
            cur = self.conn.execute(
                "DELETE FROM checks WHERE checked_at < ? AND NOT (page_id IS NULL"
                " AND outcome IN (?, ?))",
                (before, CheckOutcome.GONE.value, CheckOutcome.MOVED.value),
            )
        return cur.rowcount

    def checks_of_page(self, page_id: int, limit: int = 50) -> list[dict[str, Any]]:
        return self._all(
            "SELECT checked_at, outcome, http_status, run_id, url FROM checks WHERE page_id = ?"
            " ORDER BY id DESC LIMIT ?",
            (page_id, limit),
        )

    def check_stats(self, page_id: int) -> dict[str, Any] | None:
        return self._one("SELECT * FROM check_stats WHERE page_id = ?", (page_id,))

    def revisit_candidates(self, kind: str) -> list[dict[str, Any]]:
        """Live pages of a kind with what the revisit policy weighs: age and check history."""
        rows = self.conn.execute(
            "SELECT p.url, p.kind, p.first_seen, v.published, s.last_checked, s.last_attempt,"
            " COALESCE(s.checks, 0) AS checks, COALESCE(s.unchanged_days, 0) AS unchanged_days,"
            " COALESCE(s.changed_intervals, '[]') AS changed_intervals"
            " FROM pages p LEFT JOIN versions v ON v.page_id = p.id"
            " AND v.version = p.current_version LEFT JOIN check_stats s ON s.page_id = p.id"
            " WHERE p.status = 'live' AND p.kind = ?",
            (kind,),
        )
        out = []
        for row in rows:
            record = dict(row)
            record["changed_intervals"] = json.loads(record["changed_intervals"])
            out.append(record)
        return out

    def check_overview(self, kind: str | None, overdue_before: str) -> dict[str, Any]:
        """For `status`: live pages never checked or last checked before `overdue_before`,
        and the oldest last check."""
        where, params = "p.status = 'live'", []
        if kind:
            where += " AND p.kind = ?"
            params.append(kind)
        row = self.conn.execute(
            "SELECT SUM(CASE WHEN s.last_checked IS NULL OR s.last_checked < ? THEN 1 ELSE 0"
            " END), MIN(COALESCE(s.last_checked, p.last_seen)), COUNT(*)"
            f" FROM pages p LEFT JOIN check_stats s ON s.page_id = p.id WHERE {where}",
            (overdue_before, *params),
        ).fetchone()
        return {"overdue": int(row[0] or 0), "oldest_check": row[1], "live": int(row[2] or 0)}

    # -- the crawl queue -------------------------------------------------------------------
    def enqueue(self, rows: list[dict[str, Any]], now: str) -> None:
        """Queue URLs to fetch; a URL already queued keeps its best tier, newest sort key and
        any categories a teaser gave it."""
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO crawl_queue (url, kind, lang, tier, sort_key, lastmod, categories,"
                " queued_at) VALUES (:url, :kind, :lang, :tier, :sort_key, :lastmod,"
                " :categories, :queued_at) ON CONFLICT(url) DO UPDATE SET"
                " tier = MIN(crawl_queue.tier, excluded.tier),"
                " sort_key = MAX(crawl_queue.sort_key, excluded.sort_key),"
                " lastmod = COALESCE(excluded.lastmod, crawl_queue.lastmod),"
                " categories = CASE WHEN excluded.categories != '[]' THEN excluded.categories"
                " ELSE crawl_queue.categories END",
                [
                    {
                        "lastmod": None,
                        "lang": None,
                        "sort_key": "",
                        **row,
                        "categories": json.dumps(row.get("categories") or []),
                        "queued_at": now,
                    }
                    for row in rows
                ],
            )

    def queued(
        self, kind: str, tiers: tuple[int, ...], limit: int, langs: tuple[str, ...] | None = None
    ) -> list[dict[str, Any]]:
        """Best tier first, newest first within a tier (optionally of some languages only)."""
        marks = ", ".join("?" for _ in tiers)
        where, params = f"kind = ? AND tier IN ({marks})", [kind, *tiers]
        if langs is not None:
            where += f" AND lang IN ({', '.join('?' for _ in langs)})"
            params += list(langs)
        return self._all(
            f"SELECT * FROM crawl_queue WHERE {where} ORDER BY tier, sort_key DESC, url LIMIT ?",
            (*params, limit),
        )

    def queue_sizes(self, kind: str | None = None) -> dict[int, int]:
        sql, params = "SELECT tier, COUNT(*) FROM crawl_queue", list[str]()
        if kind:
            sql, params = sql + " WHERE kind = ?", [kind]
        return dict(self.conn.execute(sql + " GROUP BY tier", params).fetchall())

    # -- what listings and sitemaps said ---------------------------------------------------
    def teaser_memory(self, urls: list[str]) -> dict[str, dict[str, Any]]:
        """Per URL: is it a stored page (its status), its last teaser hash, its queue tier."""
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(urls), 500):
            chunk = urls[start : start + 500]
            for url, status, teaser, tier in self.conn.execute(
                "SELECT u.value, p.status, f.teaser_hash, q.tier"
                " FROM json_each(?) u LEFT JOIN pages p ON p.url = u.value"
                " LEFT JOIN fetches f ON f.url = u.value"
                " LEFT JOIN crawl_queue q ON q.url = u.value",
                (json.dumps(chunk),),
            ):
                out[url] = {"status": status, "teaser_hash": teaser, "queued_tier": tier}
        return out

    def set_teaser_hashes(self, hashes: dict[str, str]) -> None:
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO fetches (url, teaser_hash) VALUES (?, ?)"
                " ON CONFLICT(url) DO UPDATE SET teaser_hash = excluded.teaser_hash",
                list(hashes.items()),
            )

    def stored_lastmods(self, kind: str) -> dict[str, tuple[str, str | None]]:
        """Pages of a kind that are not moved: url -> (status, stored sitemap lastmod)."""
        rows = self.conn.execute(
            "SELECT p.url, p.status, f.sitemap_lastmod FROM pages p"
            " LEFT JOIN fetches f ON f.url = p.url WHERE p.kind = ? AND p.status != 'moved'",
            (kind,),
        )
        return {url: (status, lastmod) for url, status, lastmod in rows}

    def settled_unknown_urls(self) -> set[str]:
        """URLs never stored that answered 404/410 or 301: a stale sitemap entry is not
        fetched again every run."""
        rows = self.conn.execute(
            "SELECT DISTINCT url FROM checks WHERE page_id IS NULL AND outcome IN (?, ?)",
            (CheckOutcome.GONE.value, CheckOutcome.MOVED.value),
        )
        return {row[0] for row in rows}

    # -- planner state (cursors) -----------------------------------------------------------
    def plan_state(self, key: str) -> Any:
        row = self.conn.execute("SELECT value FROM crawl_state WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def plan_states(self, prefix: str) -> dict[str, Any]:
        rows = self.conn.execute(
            "SELECT key, value FROM crawl_state WHERE key LIKE ? ORDER BY key", (prefix + "%",)
        )
        return {key: json.loads(value) for key, value in rows}

    def set_plan_state(self, key: str, value: Any, now: str) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT INTO crawl_state (key, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                (key, json.dumps(value), now),
            )
