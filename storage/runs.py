"""Runs and their alerts: what each crawl did, how it ended, and what went wrong.

`archive.runs`: the store of tables runs, run_steps and alerts.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from aaltowatch.core.text import utc_now
from storage.connection import Store
from storage.rows import _dumps


class RunStore(Store):
    """Runs, their steps and alerts."""

    # -- runs -----------------------------------------------------------------------------
    def start_run(self, spider: str, base_url: str) -> int:
        """A `running` row that names its process, so a run killed mid-way can be told apart."""
        with self.transaction():
            cur = self.conn.execute(
                "INSERT INTO runs (spider, base_url, started_at, pid, host) VALUES (?, ?, ?, ?, ?)",
                (spider, base_url, utc_now(), os.getpid(), socket.gethostname()),
            )
        assert cur.lastrowid is not None  # an INSERT on a rowid table
        return cur.lastrowid

    def bump_run(self, run_id: int, **counters: int) -> None:
        sets = ", ".join(f"{k} = {k} + ?" for k in counters)
        with self.transaction():
            self.conn.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*counters.values(), run_id))

    def finish_run(
        self, run_id: int, *, status: str, exit_code: int, stats: dict[str, Any] | None = None
    ) -> None:
        with self.transaction():
            self.conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, exit_code = ?, stats = ?"
                " WHERE id = ?",
                (utc_now(), status, exit_code, _dumps(stats or {}), run_id),
            )

    def get(self, run_id: int) -> dict[str, Any] | None:
        return self._one("SELECT * FROM runs WHERE id = ?", (run_id,))

    def first_run_started(self) -> str | None:
        """When this archive began watching the site (its first run's start)."""
        return self.conn.execute("SELECT MIN(started_at) FROM runs").fetchone()[0]

    def latest(self, limit: int = 10) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))

    def running_runs(self) -> list[dict[str, Any]]:
        """Runs still marked `running`, oldest first (live ones, or ones whose process died)."""
        return self._all("SELECT * FROM runs WHERE status = 'running' ORDER BY id")

    def abandon_run(self, run_id: int, check: str, message: str) -> bool:
        """Finish a run whose process died as `abandoned` (exit 1) with its alert, atomically;
        False when another process finished it first."""
        with self.transaction():
            cur = self.conn.execute(
                "UPDATE runs SET status = 'abandoned', finished_at = ?, exit_code = 1"
                " WHERE id = ? AND status = 'running'",
                (utc_now(), run_id),
            )
            if cur.rowcount:
                self.add_alert(run_id, check, message)
        return bool(cur.rowcount)

    def interrupt_runs_of(self, pid: int) -> int:
        """Finish the runs of a crawl process that was stopped and then killed (the scheduler
        knows it did it) as `interrupted`, not left to be found abandoned."""
        with self.transaction():
            cur = self.conn.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = ?, exit_code = 1"
                " WHERE status = 'running' AND pid = ? AND host = ?",
                (utc_now(), pid, socket.gethostname()),
            )
        return cur.rowcount

    def fail_runs(self, run_ids: list[int], check: str, message: str) -> None:
        """Record that runs which crawled fine failed afterwards (e.g. feeds not written), so
        the row says what the process's exit code says."""
        with self.transaction():
            for run_id in run_ids:
                self.conn.execute(
                    "UPDATE runs SET status = 'failed', exit_code = 1 WHERE id = ?", (run_id,)
                )
                self.add_alert(run_id, check, message)

    def add_step(
        self, run_id: int, step: str, outcome: str, error: str = "", duration_s: float = 0.0
    ) -> None:
        """One step's outcome on a run (aaltowatch.steps)."""
        with self.transaction():
            self.conn.execute(
                "INSERT INTO run_steps (run_id, step, outcome, error, duration_s)"
                " VALUES (?, ?, ?, ?, ?)",
                (run_id, step, outcome, error, round(duration_s, 3)),
            )

    def run_steps(self, run_id: int) -> list[dict[str, Any]]:
        return self._all(
            "SELECT step, outcome, error, duration_s FROM run_steps WHERE run_id = ? ORDER BY id",
            (run_id,),
        )

    # -- alerts ---------------------------------------------------------------------------
    def add_alert(
        self,
        run_id: int | None,
        check: str,
        message: str,
        *,
        severity: str = "error",
        url: str | None = None,
    ) -> int:
        with self.transaction():
            cur = self.conn.execute(
                "INSERT INTO alerts (run_id, created_at, check_name, severity, message, url)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, utc_now(), check, severity, message, url),
            )
        assert cur.lastrowid is not None  # an INSERT on a rowid table
        return cur.lastrowid

    def alerts(self, limit: int = 50, run_id: int | None = None) -> list[dict[str, Any]]:
        if run_id is not None:
            return self._all("SELECT * FROM alerts WHERE run_id = ? ORDER BY id DESC", (run_id,))
        return self._all("SELECT * FROM alerts ORDER BY id DESC LIMIT ?", (limit,))
