"""The one Scrapy-facing piece of the pipeline: hand items to the pure stages and the Recorder."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from aaltowatch.items import Checked, CheckOutcome, Gone, PageItem, Unchanged
from pipeline.normalise import normalise
from pipeline.store import Outcome, Recorder
from storage import open_archive

log = logging.getLogger(__name__)

TRACKED_FIELDS = ("title", "lead", "body", "published", "updated")


class ArchivePipeline:
    """Stores every item in its own transaction; removals wait for the run's end (mass guard)."""

    def __init__(self, archive: Any, config: Any) -> None:
        self.archive = archive
        self.config = config
        self.gone: list[Gone] = []
        self.outcomes: Counter[str] = Counter()
        self.sources: Counter[str] = Counter()
        self.flagged: list[str] = []

    @classmethod
    def from_crawler(cls, crawler: Any) -> ArchivePipeline:
        config = crawler.settings.get("AALTOWATCH_CONFIG")
        archive = getattr(crawler, "aaltowatch_archive", None)
        if archive is None:  # started by plain `scrapy crawl`
            archive = crawler.aaltowatch_archive = open_archive(config.db)
        pipe = cls(archive, config)
        pipe.crawler = crawler
        return pipe

    def open_spider(self, spider: Any = None) -> None:
        spider = spider or self.crawler.spider
        self.kind = spider.kind
        self.run_id = self.archive.start_run(spider.name, self.config.base_url)
        self.known_live = self.archive.count_pages(spider.kind)
        self.recorder = Recorder(self.archive, self.run_id)
        spider.run_id = self.run_id

    def process_item(self, item: Any, spider: Any = None) -> Any:
        try:
            self._process(item)
        except Exception:
            # Counted for the health checks (error rate); Scrapy logs the traceback.
            self.crawler.stats.inc_value("aaltowatch/errors")
            raise
        return item

    def _process(self, item: Any) -> None:
        if isinstance(item, PageItem):
            clean = normalise(item, self.config.base_url)
            for name in TRACKED_FIELDS:
                self.sources[f"{name}:{clean.extraction.get(name, 'missing')}"] += 1
            self.outcomes["pages"] += 1
            if "empty_body" in clean.flags:
                self.outcomes["empty_body"] += 1
            self._count(self.recorder.page(clean))
        elif isinstance(item, Unchanged):
            self.outcomes["unchanged"] += 1
            self._count(self.recorder.unchanged(item))
        elif isinstance(item, Gone):
            page = self.archive.page(item.url)
            if page is not None and page["status"] == "live":  # only known pages can vanish
                self.gone.append(item)
            elif page is None:  # a queued URL never stored: settled, nothing to remove
                self.recorder.checked(item.url, CheckOutcome.GONE, item.http_status)
        elif isinstance(item, Checked):
            self.recorder.checked(item.url, item.outcome, item.http_status)

    def _count(self, outcome: Outcome) -> None:
        if outcome.change:
            self.outcomes[outcome.change] += 1
        if outcome.flagged:
            self.outcomes["flagged"] += 1
            self.flagged.append(f"{outcome.url} ({', '.join(outcome.flagged)})")

    def close_spider(self, spider: Any = None) -> None:
        limits = self.config.health
        share = len(self.gone) / self.known_live if self.known_live else 0.0
        if (
            self.known_live >= limits.min_known_for_missing_check
            and len(self.gone) > 1
            and share > limits.max_missing_share
        ):
            message = (
                f"{len(self.gone)} of {self.known_live} known {self.kind} pages answered 404/410"
                f" at once ({share:.0%}); not marking them removed"
            )
            log.error(message)
            # The alert itself is raised by aaltowatch.health.check_run from these stats.
            self.outcomes["mass_disappearance"] += 1
            self.outcomes["gone"] = len(self.gone)
            for item in self.gone:  # what was seen is kept, though nothing is marked removed
                self.recorder.checked(item.url, CheckOutcome.GONE, item.http_status)
        else:
            for item in self.gone:
                self._count(self.recorder.gone(item))
        stats = self.crawler.stats
        for key, value in self.outcomes.items():
            stats.set_value(f"aaltowatch/outcome/{key}", value)
        for key, value in self.sources.items():
            stats.set_value(f"aaltowatch/source/{key}", value)
        stats.set_value("aaltowatch/run_id", self.run_id)
        stats.set_value("aaltowatch/known_live", self.known_live)
