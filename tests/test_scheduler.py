"""`aaltowatch schedule`: jobs from config, crawls in subprocesses, clean stop on SIGTERM."""

from __future__ import annotations

import contextlib
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

import scheduler
from aaltowatch.core.config import Config, Schedule, load_config
from aaltowatch.core.urls import SPIDER_NAMES
from aaltowatch.testing.snapshot_server import SnapshotServer
from tests.conftest import CLI, cli_env

# Every spider every second or so (news 1 s, partnerships 1.5 s, ...).
FAST = "[schedule]\nstop_grace_s = 1\nmisfire_grace_s = 30\n" + "".join(
    f"{spider}_interval_s = {1 + i / 2}\n" for i, spider in enumerate(SPIDER_NAMES)
)


def test_jobs_from_config(tmp_path: Path) -> None:
    config_file = tmp_path / "aaltowatch.toml"
    config_file.write_text('[schedule]\nnews = "*/5 * * * *"\nmisfire_grace_s = 60\n')
    config = load_config(config_file, {"db": tmp_path / "a.db"})
    sched = scheduler.build_scheduler(config, config_file)
    jobs = {job.id: job for job in sched.get_jobs()}
    assert set(jobs) == set(SPIDER_NAMES)
    assert isinstance(jobs["news"].trigger, CronTrigger)
    assert str(jobs["news"].trigger.fields[6]) == "*/5"  # the minute field
    # Applied to each job when the scheduler starts; this is what it will apply.
    assert sched._job_defaults == {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}
    fast = Schedule(news_interval_s=2)
    assert isinstance(scheduler.trigger_for(fast, "news"), IntervalTrigger)
    assert isinstance(scheduler.trigger_for(fast, "partnerships"), CronTrigger)


def test_child_gets_config_file_and_global_options(tmp_path: Path) -> None:
    config = Config(db=tmp_path / "a.db", base_url="http://127.0.0.1:9", feeds_dir=tmp_path / "f")
    cmd = scheduler.crawl_command(config, tmp_path / "c.toml", "news")
    assert cmd[1:3] == ["-m", "aaltowatch.cli"]
    assert cmd[cmd.index("--db") + 1] == str(tmp_path / "a.db")
    assert cmd[cmd.index("--config") + 1] == str(tmp_path / "c.toml")
    assert cmd[cmd.index("--base-url") + 1] == "http://127.0.0.1:9"
    assert cmd[cmd.index("--feeds-dir") + 1] == str(tmp_path / "f")
    assert cmd[-4:] == ["run", "--once", "--spider", "news"]


def start_scheduler(tmp_path: Path, base_url: str) -> tuple[subprocess.Popen[str], Path, Path]:
    config_file = tmp_path / "aaltowatch.toml"
    config_file.write_text(FAST, encoding="utf-8")
    db, log = tmp_path / "archive.db", tmp_path / "scheduler.log"
    proc = subprocess.Popen(
        [*CLI, "--db", str(db), "--config", str(config_file), "--base-url", base_url,
         "--feeds-dir", str(tmp_path / "feeds"), "schedule"],
        env=cli_env(), stdout=subprocess.DEVNULL, stderr=log.open("w"), text=True,
    )  # fmt: skip
    return proc, db, log


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, "the scheduler died"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def runs(db: Path) -> list[tuple[str, str]]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT spider, status FROM runs ORDER BY id").fetchall()
    except sqlite3.OperationalError:  # the child has created the file but not migrated it yet
        return []


def stop(proc: subprocess.Popen[str], log: Path) -> str:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=90) == 0
    assert time.monotonic() - started < 60
    text = log.read_text(encoding="utf-8")
    assert "received SIGTERM: stopping the scheduler" in text
    assert text.rstrip().endswith("scheduler stopped")
    return text


SPIDERS = SPIDER_NAMES


def test_schedule_runs_each_job_and_stops_cleanly(tmp_path: Path) -> None:
    with SnapshotServer("state-1") as server:
        proc, db, log = start_scheduler(tmp_path, server.url)
        try:

            def both_done() -> bool:
                # The job ends after its run row (feeds, notifications): wait for the job.
                text = log.read_text(encoding="utf-8")
                return all(f"job {s}: finished ok (exit 0)" in text for s in SPIDERS)

            wait_for(both_done, proc, timeout=40)
            text = stop(proc, log)
        finally:
            proc.kill()
    assert "job news: started" in text and "job news: finished ok (exit 0)" in text
    assert "job partnerships: finished ok (exit 0)" in text
    assert {spider for spider, status in runs(db) if status == "ok"} == set(SPIDERS)
    # Nothing left half-done: a crawl cut by the stop is marked, never left 'running'.
    assert {status for _, status in runs(db)} <= {"ok", "interrupted"}


def test_failing_crawls_do_not_stop_the_scheduler(tmp_path: Path) -> None:
    closed = SnapshotServer("state-1").start()
    url = closed.url
    closed.stop()  # nothing listens there any more: every request is refused
    proc, db, log = start_scheduler(tmp_path, url)
    try:

        def failed_then_went_on() -> bool:
            text = log.read_text(encoding="utf-8")
            return "job news: finished unhealthy" in text and text.count("job news: started") >= 2

        wait_for(failed_then_went_on, proc, timeout=40)
        assert proc.poll() is None
        text = stop(proc, log)
    finally:
        proc.kill()
    assert "job partnerships: finished unhealthy" in text or "partnerships: ended by" in text
    assert all(status in ("unhealthy", "interrupted") for _, status in runs(db))


class SilentServer:
    """Accepts connections and never answers: a crawl against it is always mid-request."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.held.append(self.sock.accept()[0])

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_sigterm_during_a_crawl_that_cannot_close_in_time_leaves_it_interrupted(
    tmp_path: Path,
) -> None:
    """The crawl is SIGTERMed, gets `close_grace_s` to close, is killed, and its run row is
    finished as `interrupted` by the scheduler, not left `running`."""
    server = SilentServer()
    config_file = tmp_path / "aaltowatch.toml"
    config_file.write_text(
        "download_timeout = 120\n[schedule]\nnews_interval_s = 0.5\nstop_grace_s = 0\n"
        "close_grace_s = 1\n",
        encoding="utf-8",
    )
    db, log = tmp_path / "archive.db", tmp_path / "scheduler.log"
    proc = subprocess.Popen(
        [*CLI, "--db", str(db), "--config", str(config_file), "--base-url", server.url,
         "--feeds-dir", str(tmp_path / "feeds"), "schedule"],
        env=cli_env(), stdout=subprocess.DEVNULL, stderr=log.open("w"), text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: ("news", "running") in runs(db) and bool(server.held), proc, 40)
        # Meanwhile the next news runs are due: one line of ours each, not APScheduler's.
        wait_for(lambda: "job news: not started" in log.read_text(encoding="utf-8"), proc, 10)
        text = stop(proc, log)
    finally:
        proc.kill()
        server.close()
    assert runs(db) == [("news", "interrupted")]
    assert "job news: killed; 1 run(s) marked interrupted" in text
    assert "job news: not started: the previous news crawl is still running" in text
    assert "apscheduler" not in text and "maximum number of running instances" not in text
