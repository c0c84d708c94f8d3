"""Which change events each notification target has been sent: the exactly-once ledger.

Delivery is claim -> send -> mark, each step its own committed transaction:
1. `claim` records the events as `sending` before anything leaves the machine;
2. the message is sent;
3. `mark_sent` flips them to `sent` (a failed send `release`s them: they are pending again).

A crash between 1 and 3 leaves `sending` rows. The next run (under the same run lock, so no
other sender is alive) turns them into `unknown` and never sends them again: a crash can cost
one message, never send one twice. That is the one window, and `status` shows what fell in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aaltowatch.core.text import utc_now
from storage.connection import Store

SENDING, SENT, UNKNOWN = "sending", "sent", "unknown"


class NotificationStore(Store):
    """The notification ledger (tables notify_targets, notifications)."""

    def register_target(self, watch: str, target: str) -> dict[str, Any]:
        """The target's row; a target seen for the first time gets every event from now on (the
        events of the crawl about to run included), never the archive's history."""
        with self.transaction():
            self.conn.execute(
                "INSERT OR IGNORE INTO notify_targets (watch, target, since_change, created_at)"
                " VALUES (?, ?, (SELECT COALESCE(MAX(id), 0) FROM changes), ?)",
                (watch, target, utc_now()),
            )
        row = self.conn.execute(
            "SELECT * FROM notify_targets WHERE watch = ? AND target = ?", (watch, target)
        ).fetchone()
        return dict(row)

    def resolve_stale_claims(self) -> int:
        """Claims left `sending` by a crashed run become `unknown`: possibly delivered, so never
        sent again. Call only while holding the run lock (no live sender can own them)."""
        with self.transaction():
            cur = self.conn.execute(
                "UPDATE notifications SET status = ? WHERE status = ?", (UNKNOWN, SENDING)
            )
        return cur.rowcount

    def claim(self, target_id: int, change_ids: Sequence[int], message: str) -> None:
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO notifications (target_id, change_id, status, message, claimed_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [(target_id, cid, SENDING, message, utc_now()) for cid in change_ids],
            )

    def mark_sent(self, target_id: int, change_ids: Sequence[int]) -> None:
        now = utc_now()
        with self.transaction():
            self.conn.executemany(
                "UPDATE notifications SET status = ?, sent_at = ?"
                " WHERE target_id = ? AND change_id = ?",
                [(SENT, now, target_id, cid) for cid in change_ids],
            )
            self.conn.execute(
                "UPDATE notify_targets SET sent = sent + 1, consecutive_failures = 0,"
                " last_sent_at = ? WHERE id = ?",
                (now, target_id),
            )

    def release(self, target_id: int, change_ids: Sequence[int]) -> int:
        """A failed send: the events are pending again; returns the consecutive failure count."""
        with self.transaction():
            self.conn.executemany(
                "DELETE FROM notifications WHERE target_id = ? AND change_id = ? AND status = ?",
                [(target_id, cid, SENDING) for cid in change_ids],
            )
            self.conn.execute(
                "UPDATE notify_targets SET failures = failures + 1,"
                " consecutive_failures = consecutive_failures + 1, last_failure_at = ?"
                " WHERE id = ?",
                (utc_now(), target_id),
            )
            row = self.conn.execute(
                "SELECT consecutive_failures FROM notify_targets WHERE id = ?", (target_id,)
            ).fetchone()
        return int(row[0])

    def delivered(self, target_id: int) -> dict[int, str]:
        """change id -> status of every event recorded for a target."""
        rows = self.conn.execute(
            "SELECT change_id, status FROM notifications WHERE target_id = ?", (target_id,)
        )
        return {int(r[0]): r[1] for r in rows}

    def target_report(self) -> list[dict[str, Any]]:
        """Every target with its counters and how many events it was sent or may have lost."""
        if not self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'notify_targets'"
        ).fetchone():
            return []  # an archive from before watches (opened read-only, not migrated)
        rows = self.conn.execute(
            "SELECT t.watch, t.target, t.sent AS messages, t.failures, t.consecutive_failures,"
            " t.last_sent_at, t.last_failure_at,"
            " (SELECT COUNT(*) FROM notifications n WHERE n.target_id = t.id AND n.status = 'sent')"
            " AS events_sent,"
            " (SELECT COUNT(*) FROM notifications n WHERE n.target_id = t.id"
            " AND n.status != 'sent') AS events_unknown"
            " FROM notify_targets t ORDER BY t.watch, t.id"
        )
        return [dict(r) for r in rows]
