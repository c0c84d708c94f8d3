"""The archive file under bad conditions: racing first runs, foreign databases, read-only
filesystems, a full disk. Each ends in one clear line, never in a traceback or a damaged file."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import CLI, cli_env, run_cli

OPEN_AT = """
import sys, time
from storage import open_archive
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
open_archive(sys.argv[1]).close()
"""


def test_first_runs_racing_on_a_new_archive_both_succeed(tmp_path: Path) -> None:
    for attempt in range(4):
        db = tmp_path / f"race-{attempt}.db"
        start = time.time() + 1.5  # both interpreters are up by then, then open at once
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_AT, str(db), str(start)],
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
        with sqlite3.connect(db) as conn:
            applied = conn.execute("SELECT COUNT(*) FROM _sqlite_migrations").fetchone()[0]
        from storage.migrations import migrations

        assert applied == len(migrations._migrations)


def foreign_db(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO contacts (name) VALUES ('Ada')")
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM sqlite_master ORDER BY name")]


def test_another_applications_database_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "addressbook.sqlite"
    before = foreign_db(db)
    mode = db.read_bytes()[18:20]  # file format versions: 1,1 rollback journal; 2,2 WAL
    for args in (("crawl", "--no-progress"), ("run", "--once"), ("status",), ("export",),
                 ("reextract",)):  # fmt: skip
        proc = run_cli("--base-url", "http://127.0.0.1:9", *args, db=db)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "not an aaltowatch archive" in lines[0], (args, proc.stderr)
    with sqlite3.connect(db) as conn:
        after = [r[0] for r in conn.execute("SELECT name FROM sqlite_master ORDER BY name")]
    assert after == before
    assert db.read_bytes()[18:20] == mode


def as_reader(cmd: list[str]) -> list[str]:
    """Root writes anywhere, so a read-only directory is only read-only for another user."""
    if os.geteuid() != 0:
        return cmd
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root without setpriv cannot see a read-only directory")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]


def test_readers_open_a_wal_archive_on_a_read_only_filesystem(two_state_copy: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="aaltowatch-ro-"))
    try:
        db = folder / "archive.db"
        shutil.copy(two_state_copy, db)
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal"
        conn.close()
        assert not Path(f"{db}-shm").exists()  # closed cleanly: no WAL index to reuse
        db.chmod(0o444)
        folder.chmod(0o555)
        for args in (["status", "--json"], ["export", "--format", "ndjson"],
                     ["search", "Aalto", "--json"]):  # fmt: skip
            proc = subprocess.run(
                as_reader([*CLI, "--db", str(db), *args]), capture_output=True, text=True,
                env=cli_env(), timeout=60,
            )  # fmt: skip
            assert proc.returncode in (0, 3), (args, proc.stderr)
            assert proc.stdout.strip(), args
        assert sorted(p.name for p in folder.iterdir()) == ["archive.db"]
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


# The first refused write lands in a different place with each size: a listing's planning
# state (a spider callback), a page's transaction (the pipeline), or the upkeep on close.
@pytest.mark.parametrize("room_kib", [32, 96])
def test_a_full_disk_ends_the_crawl_with_one_clear_line(tmp_path: Path, room_kib: int) -> None:
    import resource

    from storage import open_archive
    from tests.faultserver import FaultServer

    db = tmp_path / "archive.db"
    open_archive(db).close()
    limit = db.stat().st_size + room_kib * 1024  # the WAL fills up a few pages into the crawl

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    with FaultServer() as srv:
        cmd = [*CLI, "--db", str(db), "--base-url", srv.url, "--feeds-dir",
               str(tmp_path / "feeds"), "run", "--once", "--spider", "news"]  # fmt: skip
        env = cli_env(AALTOWATCH_RETRY_TIMES="1")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120,
                              preexec_fn=small_disk)  # fmt: skip
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr and "not a usable" not in proc.stderr
        errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
        assert len(errors) == 1 and errors[0].startswith("error: cannot write the archive")
        assert "full" in errors[0]

        again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0, again.stderr
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    runs = conn.execute("SELECT status FROM runs ORDER BY id").fetchall()
    conn.close()
    assert runs[-1] == ("ok",) and runs[0][0] in ("failed", "abandoned")
