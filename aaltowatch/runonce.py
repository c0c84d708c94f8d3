"""`run --once`: the steps of a run (aaltowatch.steps) under the shared lock; the cron entry
point."""

from __future__ import annotations

from typing import Any

from aaltowatch.core.config import Config
from aaltowatch.core.lock import run_lock
from aaltowatch.core.site import Site, claim_site
from aaltowatch.integrity import close_abandoned
from aaltowatch.steps import Step, Steps, after_crawl


def run_once(config: Config, spider: str = "all", *, console: Any | None = None) -> int:
    """Exit code: 0 healthy, 3 a health check failed, 1 the crawl or any other step failed
    (every step runs regardless; LockedError propagates, and so does the crawl's own error
    once the other steps have run)."""
    from aaltowatch.crawlcmd import crawl_archive, print_summaries
    from aaltowatch.notify.deliver import register
    from aaltowatch.publish import publish_health
    from storage import open_archive

    with run_lock(config.effective_lock_file):
        with open_archive(config.db) as archive:
            claim_site(archive, Site.of(config), allow_other=config.allow_other_site)
            if close_abandoned(archive):
                # Publish the alert now: this run may die the same way before its own feeds.
                publish_health(archive, config)
            if any(w.notify for w in config.watches):
                register(archive, config.watches)  # new targets get this run's events
        steps = Steps(config)
        show_progress = console is not None and console.is_terminal
        summaries = steps.run(
            Step.CRAWL,
            lambda: crawl_archive(config, spider, console if show_progress else None),
            quiet=True,  # raised again below, once the other steps have run
        )
        steps.summaries = summaries or []
        if console is not None:
            print_summaries(steps.summaries, console)
        with open_archive(config.db) as archive:
            after_crawl(steps, archive)
        crawl = steps.results[0]
        if crawl.exc is not None:
            raise crawl.exc  # the crawl's own message and exit code, after the other steps
        return steps.exit_code()
