"""`run --once`: crawl + feeds + health checks under the shared lock; the cron entry point."""

from __future__ import annotations

import logging
import sqlite3
import time
from contextlib import suppress
from typing import Any

from aaltowatch.core.config import Config
from aaltowatch.core.errors import EXIT_FAILED, exit_code_for
from aaltowatch.core.lock import run_lock
from aaltowatch.core.site import Site, claim_site
from aaltowatch.integrity import close_abandoned
from aaltowatch.metrics import write_metrics

log = logging.getLogger(__name__)

FEEDS_FAILED = "feeds_failed"  # alert: the crawl ran, its feeds could not be written


def _record_feeds_failure(
    archive: Any, config: Config, summaries: list[Any], exc: Exception
) -> None:
    """The process exits 1, so the runs' rows and the metrics must not say ok. Best effort:
    when the disk is what failed, the original error is the one worth showing."""
    with suppress(OSError, sqlite3.Error):
        archive.fail_runs(
            [s.run_id for s in summaries if s.run_id is not None],
            FEEDS_FAILED,
            f"feeds could not be written to {config.feeds_dir}: {exc}",
        )
    with suppress(OSError):
        write_metrics(
            config.effective_metrics_file, summaries, exit_code=EXIT_FAILED, finished_at=time.time()
        )


def run_once(config: Config, spider: str = "all", *, console: Any | None = None) -> int:
    """Exit code: 0 healthy, 1 failed, 3 a health check failed (LockedError propagates)."""
    from aaltowatch.crawlcmd import crawl_archive, print_summaries
    from aaltowatch.notify.deliver import after_run, last_run, register
    from aaltowatch.publish import publish_feeds
    from storage import open_archive

    with run_lock(config.effective_lock_file):
        with open_archive(config.db) as archive:
            claim_site(archive, Site.of(config), allow_other=config.allow_other_site)
            if close_abandoned(archive):
                # Publish the alert now: this run may die the same way before its own feeds.
                publish_feeds(archive, config)
            if any(w.notify for w in config.watches):
                register(archive, config.watches)  # new targets get this run's events
        show_progress = console is not None and console.is_terminal
        summaries = crawl_archive(config, spider, console if show_progress else None)
        if console is not None:
            print_summaries(summaries, console)
        with open_archive(config.db) as archive:
            try:
                report = publish_feeds(archive, config)
            except (OSError, sqlite3.Error) as exc:
                _record_feeds_failure(archive, config, summaries, exc)
                raise
            sent = after_run(config, archive, last_run(summaries))
            if sent is not None and sent.alerts:  # health.xml carries the new alert
                publish_feeds(archive, config)
        log.info("feeds: %d written, %d unchanged", len(report.written), len(report.unchanged))
        exit_code = exit_code_for(s.status for s in summaries)
        write_metrics(
            config.effective_metrics_file, summaries, exit_code=exit_code, finished_at=time.time()
        )
        return exit_code
