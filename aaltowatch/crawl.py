"""Run spiders in this process and turn each crawl into a recorded, health-checked run.

The Twisted reactor cannot restart, so several crawls in one process (the demo) run as one
sequence of steps inside a single reactor; the scheduler runs each crawl in a subprocess.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aaltowatch.config import Config
from aaltowatch.health import Alert, check_run

log = logging.getLogger(__name__)

SPIDERS = {
    "news": "spiders.news.NewsSpider",
    "partnerships": "spiders.partnerships.PartnershipsSpider",
}


def quiet_scrapy() -> None:
    """Scrapy's per-request chatter is for debugging (-v), not for operators."""
    level = max(logging.WARNING, logging.getLogger().level)
    for name in ("scrapy", "twisted", "py.warnings", "protego"):
        logging.getLogger(name).setLevel(level)


@dataclass
class RunSummary:
    spider: str
    run_id: int
    requests: int = 0
    pages: int = 0
    not_modified: int = 0
    skipped: int = 0
    errors: int = 0
    new: int = 0
    modified: int = 0
    removed: int = 0
    moved: int = 0
    restored: int = 0
    duplicates: int = 0
    flagged: int = 0
    alerts: list[Alert] = field(default_factory=list)
    finish_reason: str = ""

    @property
    def healthy(self) -> bool:
        return not self.alerts


@dataclass
class CrawlStep:
    """One crawl in a sequence: which spiders, and hooks around it (demo: switch state, feeds)."""

    config: Config
    spiders: tuple[str, ...]
    before: Callable[[], None] | None = None
    after: Callable[[list[RunSummary]], None] | None = None


def spider_names(choice: str) -> tuple[str, ...]:
    return tuple(SPIDERS) if choice == "all" else (choice,)


def _summarise(archive: Any, crawler: Any, config: Config) -> RunSummary:
    stats = crawler.stats.get_stats()
    spider = crawler.spider
    run_id = stats.get("aaltowatch/run_id") or getattr(spider, "run_id", None)

    def s(key: str) -> int:
        return int(stats.get(key) or 0)

    summary = RunSummary(
        spider=spider.name,
        run_id=run_id,
        requests=s("downloader/request_count"),
        pages=s("aaltowatch/outcome/pages"),
        not_modified=s("downloader/response_status_count/304"),
        skipped=s("aaltowatch/skipped_lastmod"),
        errors=s("aaltowatch/errors") + s("aaltowatch/extraction_errors"),
        new=s("aaltowatch/outcome/new"),
        modified=s("aaltowatch/outcome/modified"),
        removed=s("aaltowatch/outcome/removed"),
        moved=s("aaltowatch/outcome/moved"),
        restored=s("aaltowatch/outcome/restored"),
        duplicates=s("aaltowatch/outcome/duplicate"),
        flagged=s("aaltowatch/outcome/flagged"),
        finish_reason=str(stats.get("finish_reason", "")),
    )
    summary.alerts = check_run(spider.kind, stats, config.health)
    if summary.flagged:
        summary.alerts.append(
            Alert(
                "suspicious_versions",
                f"{spider.name}: {summary.flagged} pages changed suspiciously (e.g. empty body,"
                " selectors missed); their new versions were not stored",
            )
        )
    if summary.finish_reason not in ("finished", ""):
        summary.alerts.append(
            Alert("crawl_incomplete", f"{spider.name}: crawl ended with {summary.finish_reason}")
        )
    if run_id is not None:
        for alert in summary.alerts:
            archive.add_alert(run_id, alert.check, alert.message, severity=alert.severity)
        archive.bump_run(
            run_id,
            requests=summary.requests,
            pages_fetched=summary.pages,
            not_modified=summary.not_modified,
            skipped=summary.skipped,
            errors=summary.errors,
            new=summary.new + summary.duplicates,
            modified=summary.modified,
            removed=summary.removed,
            moved=summary.moved,
            restored=summary.restored,
        )
        keep = {k: v for k, v in stats.items() if isinstance(v, int | float | str)}
        archive.finish_run(
            run_id,
            status="ok" if summary.healthy else "unhealthy",
            exit_code=0 if summary.healthy else 3,
            stats=keep,
        )
    return summary


def run_steps(
    steps: list[CrawlStep], archive: Any, progress: Any | None = None
) -> list[RunSummary]:
    """Run crawl steps one after another inside one reactor; return every run's summary."""
    from scrapy.utils.log import configure_logging
    from scrapy.utils.reactor import install_reactor

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from scrapy.crawler import CrawlerRunner
    from scrapy.utils.misc import load_object
    from twisted.internet import defer, reactor

    from spiders.settings import scrapy_settings

    configure_logging(install_root_handler=False)
    quiet_scrapy()
    archive.close_interrupted_runs()
    summaries: list[RunSummary] = []
    failure: list[BaseException] = []

    @defer.inlineCallbacks
    def sequence() -> Any:
        try:
            for step in steps:
                if step.before:
                    step.before()
                runner = CrawlerRunner(scrapy_settings(step.config))
                crawlers = []
                for name in step.spiders:
                    crawler = runner.create_crawler(load_object(SPIDERS[name]))
                    crawler.aaltowatch_archive = archive
                    if progress is not None:
                        progress.attach(crawler, name)
                    crawlers.append(crawler)
                    runner.crawl(crawler)
                yield runner.join()
                step_summaries = [_summarise(archive, c, step.config) for c in crawlers]
                summaries.extend(step_summaries)
                if step.after:
                    step.after(step_summaries)
        except BaseException as exc:  # surfaced after the reactor stops
            failure.append(exc)
        finally:
            reactor.stop()

    reactor.callWhenRunning(sequence)
    reactor.run(installSignalHandlers=True)
    if failure:
        raise failure[0]
    return summaries
