"""`run --once`: crawl + feeds + health checks under the shared lock; the cron entry point."""

from __future__ import annotations

import logging
import time
from typing import Any

from aaltowatch.config import Config
from aaltowatch.errors import EXIT_FAILED, EXIT_OK, EXIT_UNHEALTHY
from aaltowatch.lock import run_lock
from aaltowatch.metrics import write_metrics

log = logging.getLogger(__name__)


def exit_code_for(summaries: list[Any]) -> int:
    """A stopped (SIGTERM) crawl did not finish its job: failed, not healthy, not unhealthy."""
    if any(s.interrupted for s in summaries):
        return EXIT_FAILED
    return EXIT_OK if all(s.healthy for s in summaries) else EXIT_UNHEALTHY


def run_once(config: Config, spider: str = "all", *, console: Any | None = None) -> int:
    """Exit code: 0 healthy, 1 failed, 3 a health check failed (LockedError propagates)."""
    from aaltowatch.cli import _print_summaries, do_crawl
    from aaltowatch.notify.deliver import after_run, last_run, register
    from feeds.build import build_feeds
    from storage import open_archive

    with run_lock(config.effective_lock_file):
        if any(w.notify for w in config.watches):
            with open_archive(config.db) as archive:
                register(archive, config.watches)  # new targets get this run's events
        summaries = do_crawl(
            config, spider, show_progress=console is not None and console.is_terminal
        )
        if console is not None:
            _print_summaries(summaries)
        with open_archive(config.db) as archive:
            report = build_feeds(
                archive,
                config.feeds_dir,
                max_entries=config.feed_max_entries,
                watches=config.watches,
            )
            sent = after_run(config, archive, last_run(summaries))
            if sent is not None and sent.alerts:  # health.xml carries the new alert
                build_feeds(
                    archive,
                    config.feeds_dir,
                    max_entries=config.feed_max_entries,
                    watches=config.watches,
                )
        log.info("feeds: %d written, %d unchanged", len(report.written), len(report.unchanged))
        exit_code = exit_code_for(summaries)
        write_metrics(
            config.effective_metrics_file, summaries, exit_code=exit_code, finished_at=time.time()
        )
        return exit_code
