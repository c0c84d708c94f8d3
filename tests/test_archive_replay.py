"""The replayed archive (bench/archive_replay.py): written through the product's write path, it
must be an archive the product itself accepts. Its timings live in bench/, not here."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from aaltowatch.cli import cli

pytest.importorskip("time_machine")  # the bench extra (make .venv/.installed-bench)

from bench import archive_replay


def test_two_replayed_days_make_a_sound_archive(tmp_path: Path) -> None:
    db = tmp_path / "replay.db"
    rows = archive_replay.generate_age(db, 2, scale=0.0025)  # 50 pages
    assert rows["runs"] == 2 * archive_replay.RUNS_PER_DAY
    assert rows["checks"] > rows["pages"] >= 40
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # Every run was finished by the crawl's own summary, on the replayed clock.
        runs = conn.execute("SELECT status, started_at, finished_at FROM runs").fetchall()
        assert {r[0] for r in runs} <= {"ok", "unhealthy"}
        assert all(r[1].startswith("2026-01-0") and r[2] >= r[1] for r in runs)
        # Each stored version has the change event that introduced it.
        (orphans,) = conn.execute(
            "SELECT COUNT(*) FROM versions v WHERE NOT EXISTS (SELECT 1 FROM changes c"
            " WHERE c.page_id = v.page_id AND c.version = v.version)"
        ).fetchone()
        assert orphans == 0
    finally:
        conn.close()
    result = CliRunner().invoke(cli, ["--db", str(db), "status", "--json"])
    assert result.exit_code in (0, 3), result.output  # 3: a replayed run may be unhealthy
    assert json.loads(result.output)
