"""Run spiders in this process and turn each crawl into a recorded, health-checked run.

The Twisted reactor cannot restart, so several crawls in one process (the demo) run as one
sequence of steps inside a single reactor; the scheduler runs each crawl in a subprocess.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, cast

from aaltowatch.core import crawlstop
from aaltowatch.core.config import Config
from aaltowatch.core.enums import RunStatus
from aaltowatch.core.errors import RUN_EXIT_CODES, ArchiveWriteError
from aaltowatch.core.fetchcache import ARCHIVE_SETTING
from aaltowatch.core.health import check_run
from aaltowatch.core.runstats import STOPPED, RunStats
from aaltowatch.core.urls import SPIDER_NAMES
from aaltowatch.figures import RunSummary, stored
from aaltowatch.integrity import close_abandoned

log = logging.getLogger(__name__)


QUIET_DUPLICATES = ("scrapy.downloadermiddlewares.retry", "scrapy.downloadermiddlewares.robotstxt")


def quiet_scrapy() -> None:
    """Scrapy's per-request chatter is for debugging (-v), not for operators."""
    level = max(logging.WARNING, logging.getLogger().level)
    for name in ("scrapy", "twisted", "py.warnings", "protego"):
        logging.getLogger(name).setLevel(level)
    if level > logging.DEBUG:
        # Third-party deprecation warnings (routed to logging by Scrapy) are for developers.
        logging.getLogger("py.warnings").setLevel(logging.ERROR)
        # A failed download is reported once, by the spider's own one-line warning, not again
        # by Scrapy's retry and robots.txt middlewares (the latter with a traceback).
        for name in QUIET_DUPLICATES:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        # Spidermon's report block (spider loggers) restates the alerts printed by the CLI.
        for name in SPIDER_NAMES:
            logging.getLogger(name).setLevel(logging.CRITICAL)


@dataclass
class CrawlStep:
    """One crawl in a sequence: which spiders, and hooks around it (demo: switch state, feeds)."""

    config: Config
    spiders: tuple[str, ...]
    before: Callable[[], None] | None = None
    after: Callable[[list[RunSummary]], None] | None = None


def spider_names(choice: str) -> tuple[str, ...]:
    return SPIDER_NAMES if choice == "all" else (choice,)


def spider_class(name: str) -> type:
    """The spider of a section of the site model: the one named `name` in `spiders/<name>.py`."""
    from scrapy.utils.spider import iter_spider_classes

    module = importlib.import_module(f"spiders.{name}")
    return next(cls for cls in iter_spider_classes(module) if cls.name == name)


def _summarise(archive: Any, crawler: Any, config: Config, stopped: bool = False) -> RunSummary:
    stats = crawler.stats.get_stats()
    if stopped and not stats.get("finish_reason"):  # stopped before the engine even ran
        stats = {**stats, "finish_reason": STOPPED}
    spider = crawler.spider
    run = RunStats.from_scrapy(stats)
    run_id = run.run_id or getattr(spider, "run_id", None)
    if stats.get(crawlstop.STAT):
        if run_id is not None:
            with suppress(ArchiveWriteError):  # a few bytes may still fit; the error stands
                failed = RunStatus.FAILED
                archive.runs.finish_run(run_id, status=failed, exit_code=RUN_EXIT_CODES[failed])
        raise ArchiveWriteError(stats[crawlstop.STAT])
    summary = RunSummary(spider.name, run_id, run)
    summary.alerts = check_run(spider.kind, run, config.health)
    if run_id is not None:
        for alert in summary.alerts:
            archive.runs.add_alert(run_id, alert.check, alert.message, severity=alert.severity)
        archive.runs.bump_run(run_id, **stored(summary))
        keep = {k: v for k, v in stats.items() if isinstance(v, int | float | str)}
        status = summary.status
        archive.runs.finish_run(run_id, status=status, exit_code=RUN_EXIT_CODES[status], stats=keep)
    return summary


def refresh_registry(archive: Any, config: Config) -> None:
    """Derived data after `reextract` (the partner registry); its failure never fails the
    re-extraction. After a crawl this is the `store` step (aaltowatch.steps)."""
    from aaltowatch.partners import refresh_partners

    try:
        refresh_partners(archive, config)
    except Exception:
        log.exception("partners: the registry could not be refreshed")


def run_steps(
    steps: list[CrawlStep], archive: Any, progress: Any | None = None
) -> list[RunSummary]:
    """Run crawl steps one after another inside one reactor; return every run's summary."""
    from scrapy.utils.log import configure_logging
    from scrapy.utils.reactor import install_reactor

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from scrapy.crawler import CrawlerRunner
    from scrapy.utils.ossignal import install_shutdown_handlers
    from twisted.internet import defer
    from twisted.internet import reactor as installed
    from twisted.internet.asyncioreactor import AsyncioSelectorReactor

    # Twisted types the global reactor by its zope interfaces, which mypy reads without `self`;
    # it is the reactor installed just above.
    reactor = cast(AsyncioSelectorReactor, installed)
    from spiders.settings import scrapy_settings

    configure_logging({"LOG_INSTALL_ROOT_HANDLER": False})
    quiet_scrapy()
    close_abandoned(archive)  # runs whose process died: finished as abandoned, with an alert
    summaries: list[RunSummary] = []
    failure: list[BaseException] = []
    runners: list[Any] = []
    stop_requested: list[int] = []
    stopped: Any = defer.Deferred()

    def on_signal(signum: int, _frame: Any) -> None:
        """First SIGTERM/SIGINT closes the spiders cleanly (runs get finished); second: now."""
        if stop_requested:
            reactor.callFromThread(reactor.stop)
            return
        stop_requested.append(signum)
        log.warning("signal %d: closing the crawl (again to stop at once)", signum)
        reactor.callFromThread(stop_current)

    def stop_current() -> None:
        # Scrapy's join() may never fire for a crawl stopped mid-way; stop() does, once the
        # spider is closed and the pipeline has finished its run.
        if runners:
            runners[-1].stop().addBoth(lambda _: stopped.called or stopped.callback(None))

    @defer.inlineCallbacks
    def sequence() -> Any:
        try:
            for step in steps:
                if stop_requested:
                    break
                if step.before:
                    step.before()
                runner = CrawlerRunner(scrapy_settings(step.config))
                runners.append(runner)
                crawlers = []
                for name in step.spiders:
                    crawler = runner.create_crawler(spider_class(name))
                    crawler.settings.set(ARCHIVE_SETTING, archive)  # read by its fetch cache
                    if progress is not None:
                        progress.attach(crawler, name)
                    crawlers.append(crawler)
                    runner.crawl(crawler)
                yield defer.DeferredList([runner.join(), stopped], fireOnOneCallback=True)
                step_summaries = [
                    _summarise(archive, c, step.config, bool(stop_requested)) for c in crawlers
                ]
                summaries.extend(step_summaries)
                if step.after:
                    step.after(step_summaries)
        except BaseException as exc:  # surfaced after the reactor stops
            failure.append(exc)
        finally:
            reactor.stop()

    reactor.callWhenRunning(sequence)
    install_shutdown_handlers(on_signal)
    reactor.run(installSignalHandlers=False)
    if failure:
        raise failure[0]
    return summaries
