"""The long-running `aaltowatch schedule` loop: APScheduler jobs, each crawl in a subprocess.

Each job runs `aaltowatch run --once --spider NAME` as a child process because the Twisted
reactor cannot be restarted inside one process, and because a crash or hang in a crawl must not
take the scheduler down. The child takes the same lock as a cron-driven `run --once`, so the two
never crawl at once; a job that finds the lock taken is logged as skipped, not as a failure.
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from aaltowatch.core.config import Config, Schedule
from aaltowatch.core.errors import EXIT_LOCKED, EXIT_OK, EXIT_UNHEALTHY

log = logging.getLogger("aaltowatch.scheduler")


def crawl_command(config: Config, config_file: Path | None, spider: str) -> list[str]:
    """The child's command line: the effective global options, so it sees what we see."""
    cmd = [sys.executable, "-m", "aaltowatch.cli", "--db", str(config.db)]
    if config_file is not None:
        cmd += ["--config", str(config_file)]
    cmd += ["--base-url", config.base_url, "--feeds-dir", str(config.feeds_dir)]
    if config.log_level.upper() == "DEBUG":
        cmd.append("--verbose")
    if config.allow_other_site:
        cmd.append("--allow-other-site")
    return [*cmd, "run", "--once", "--spider", spider]


def trigger_for(schedule: Schedule, spider: str) -> BaseTrigger:
    """A seconds-level interval when configured (tests), else the crontab expression."""
    cron, interval = schedule.entry(spider)
    if interval > 0:
        return IntervalTrigger(seconds=interval)
    return CronTrigger.from_crontab(cron)


class CrawlJobs:
    """Runs crawl subprocesses and remembers the live one, so a stop request can reach it."""

    def __init__(self, config: Config, config_file: Path | None) -> None:
        self.config = config
        self.config_file = config_file
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._running: subprocess.Popen[bytes] | None = None
        self._idle = threading.Event()
        self._idle.set()

    def run(self, spider: str) -> int | None:
        """One job: returns the child's exit code (None when not started because we stop)."""
        timeout = self.config.schedule.crawl_timeout_s
        started = time.monotonic()
        with self._lock:
            if self.stopping.is_set():
                return None
            self._idle.clear()
            # Own process group: a timeout kill reaches any grandchildren too, and a Ctrl-C
            # on the terminal reaches only the scheduler, which then decides how to stop.
            proc = subprocess.Popen(
                crawl_command(self.config, self.config_file, spider), start_new_session=True
            )
            self._running = proc
        try:
            log.info("job %s: started (pid %d)", spider, proc.pid)
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.error("job %s: still running after %ss; stopping it", spider, timeout)
                code = terminate(proc, self.config.schedule.close_grace_s)
            with self._lock:
                self._running = None
            if code < 0:  # killed by a signal: it could not finish its run row itself
                self._mark_interrupted(spider, proc.pid)
            self._log_end(spider, code, time.monotonic() - started)
        finally:
            self._idle.set()
        return code

    def _mark_interrupted(self, spider: str, pid: int) -> None:
        """Finish the killed crawl's run as `interrupted` now, not at the next run's start."""
        from aaltowatch.core.errors import AaltowatchError
        from aaltowatch.core.lock import run_lock
        from storage import open_archive

        try:
            with run_lock(self.config.effective_lock_file), open_archive(self.config.db) as db:
                marked = db.runs.interrupt_runs_of(pid)
        except (AaltowatchError, OSError, sqlite3.Error) as exc:
            log.warning(
                "job %s: killed; its run is left to the next run to close (%s)", spider, exc
            )
            return
        log.warning("job %s: killed; %d run(s) marked interrupted", spider, marked)

    def _log_end(self, spider: str, code: int, seconds: float) -> None:
        if self.stopping.is_set() and code != EXIT_OK:
            log.warning(
                "job %s: ended by the scheduler's shutdown (exit %d) after %.1fs",
                spider,
                code,
                seconds,
            )
        elif code == EXIT_OK:
            log.info("job %s: finished ok (exit 0) in %.1fs", spider, seconds)
        elif code == EXIT_UNHEALTHY:
            log.warning(
                "job %s: finished unhealthy (exit 3: a health check failed, see `aaltowatch"
                " status`) in %.1fs",
                spider,
                seconds,
            )
        elif code == EXIT_LOCKED:
            log.warning(
                "job %s: skipped (exit 4: another aaltowatch run holds the lock) after %.1fs",
                spider,
                seconds,
            )
        else:
            # The crawl or a step after it (feeds, notify, metrics, health) failed; every
            # step still ran, and `status` names the failed one (aaltowatch.steps).
            log.error(
                "job %s: failed (exit %d: see `aaltowatch status`) in %.1fs", spider, code, seconds
            )

    def stop(self, grace_s: float) -> None:
        """No new crawls; the running one gets `grace_s` to finish, then SIGTERM (then SIGKILL)."""
        with self._lock:
            self.stopping.set()
            proc = self._running
        if proc is not None:
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                log.warning(
                    "crawl pid %d still running after %ss; sending SIGTERM", proc.pid, grace_s
                )
                terminate(proc, self.config.schedule.close_grace_s)
        self._idle.wait()  # the job thread logs how the crawl ended before we say we stopped


def terminate(proc: subprocess.Popen[bytes], close_grace_s: float) -> int:
    """SIGTERM the child's process group (Scrapy closes the spider and finishes its run as
    `interrupted`), SIGKILL if it has not closed after `close_grace_s`."""
    for sig, wait in ((signal.SIGTERM, close_grace_s), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            return proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    return proc.wait()


def build_scheduler(
    config: Config, config_file: Path | None, jobs: CrawlJobs | None = None
) -> BlockingScheduler:
    """One job per spider; one worker thread, so the scheduler's own crawls queue, not collide."""
    jobs = jobs or CrawlJobs(config, config_file)
    schedule = config.schedule
    scheduler = BlockingScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": schedule.misfire_grace_s,
        },
        timezone="UTC",
    )
    for spider in schedule.entries:
        scheduler.add_job(
            jobs.run, trigger_for(schedule, spider), args=[spider], id=spider, name=spider
        )
    scheduler.add_listener(_log_not_started, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
    return scheduler


def _log_not_started(event: JobEvent) -> None:
    """Our one line for a run time that did not start (APScheduler's own warnings are -v)."""
    if event.code == EVENT_JOB_MAX_INSTANCES:
        job = event.job_id
        log.warning("job %s: not started: the previous %s crawl is still running", job, job)
    else:
        log.warning(
            "job %s: not started: its run time %s was missed by more than misfire_grace_s",
            event.job_id,
            f"{event.scheduled_run_time:%Y-%m-%d %H:%M:%S %Z}",
        )


def run_forever(config: Config, config_file: Path | None) -> int:
    """Run the jobs in the foreground until SIGTERM/SIGINT; a stop is clean, so exit 0."""
    _log_to_stderr(config.log_level)
    jobs = CrawlJobs(config, config_file)
    scheduler = build_scheduler(config, config_file, jobs)

    requested: list[int] = []

    def request_stop(signum: int, frame: FrameType | None) -> None:
        if requested:
            return
        requested.append(signum)
        log.info("received %s: stopping the scheduler", signal.Signals(signum).name)
        # Not from inside the handler: it may have interrupted the scheduler holding its locks.
        threading.Thread(target=_shutdown, args=(scheduler,), daemon=True).start()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for job in scheduler.get_jobs():
            log.info("job %s: scheduled (%s)", job.id, job.trigger)
        log.info("scheduler started (db %s, site %s)", config.db, config.base_url)
        scheduler.start()
    finally:
        jobs.stop(config.schedule.stop_grace_s)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("scheduler stopped")
    return EXIT_OK


def _shutdown(scheduler: BlockingScheduler) -> None:
    """Stop scheduling; retried because a signal can arrive just before `start()` runs."""
    while True:
        try:
            scheduler.shutdown(wait=False)
            return
        except SchedulerNotRunningError:
            time.sleep(0.1)


def _log_to_stderr(level: str) -> None:
    """The CLI keeps the root logger at WARNING; the scheduler's job lines are INFO and wanted."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(getattr(logging, level.upper(), logging.INFO))
    log.propagate = False
    # The scheduler logs skipped and missed runs itself (_log_not_started), in its own words.
    apscheduler_level = logging.DEBUG if level.upper() == "DEBUG" else logging.ERROR
    logging.getLogger("apscheduler").setLevel(apscheduler_level)
