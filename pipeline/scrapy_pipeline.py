"""The one Scrapy-facing piece of the pipeline: hand items to the pure stages and the Recorder."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol, cast

from scrapy.crawler import Crawler

from aaltowatch.core.crawlstop import stop_unwritable, unwritable
from aaltowatch.core.decision import Outcome
from aaltowatch.core.enums import ChangeKind, PageStatus
from aaltowatch.core.errors import ArchiveWriteError
from aaltowatch.core.health import exceeds_share
from aaltowatch.core.items import Checked, CheckOutcome, Gone, Unchanged
from aaltowatch.core.runstats import (
    ERRORS,
    KNOWN_LIVE,
    RUN_ID,
    Counted,
    outcome_key,
    source_key,
)
from pages.article import PageItem
from pages.fields import EXTRACTED_FIELDS
from pipeline.history import SOFT_404
from pipeline.normalise import normalise, normalise_unchanged
from pipeline.recorder import Recorder
from storage import Archive

log = logging.getLogger(__name__)

# Outcomes only the pipeline counts (stats `outcome_key(name)`); the ones a run's figures are
# read from are aaltowatch.core.runstats.Counted and the change kinds. A skipped outcome
# (pipeline.history.SOFT_404) is counted under its own name.
TRUNCATED = "truncated"  # pages with a value cut to its limit
EMPTY_BODY = "empty_body"  # pages parsed with no body text (their flag, pipeline.classify)


class _Rechecks(Protocol):
    """The spider's side of a move seen from its new URL first (spiders.base.AaltoSpider)."""

    def recheck(self, url: str) -> None: ...


class ArchivePipeline:
    """Stores every item in its own transaction; removals wait for the run's end (mass guard)."""

    crawler: Crawler  # set by from_crawler

    def __init__(self, archive: Any, config: Any) -> None:
        self.archive = archive
        self.config = config
        self.gone: list[Gone] = []
        # 301s from known pages wait for the run's end too: the mass-move guard decides.
        self.moves: list[PageItem] = []
        self.outcomes: Counter[str] = Counter()
        self.sources: Counter[str] = Counter()  # by stats key (runstats.source_key)
        self.flagged: list[str] = []
        # Pages counted new (or duplicate) this run: a 301 to one of them later in the run
        # makes it the move's target (its page is discarded), counted once, as moved.
        self.counted_new: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> ArchivePipeline:
        config = crawler.settings.get("AALTOWATCH_CONFIG")
        pipe = cls(Archive.from_crawler(crawler), config)
        pipe.crawler = crawler
        return pipe

    def open_spider(self, spider: Any = None) -> None:
        spider = spider or self.crawler.spider
        self.kind = spider.kind
        self.run_id = self.archive.runs.start_run(spider.name, self.config.base_url)
        self.known_live = self.archive.pages.count_pages(spider.kind)
        self.recorder = Recorder(self.archive, self.run_id)
        spider.run_id = self.run_id

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if unwritable(self.crawler):
            return item  # the crawl is closing: the archive refused an earlier write
        try:
            self._process(item)
        except ArchiveWriteError as exc:
            stop_unwritable(self.crawler, exc)
        except Exception:
            # Counted for the health checks (error rate); Scrapy logs the traceback.
            self.crawler.stats.inc_value(ERRORS)
            raise
        return item

    def _process(self, item: Any) -> None:
        if isinstance(item, PageItem):
            clean = normalise(item, self.config.base_url)
            if SOFT_404 in clean.flags:  # an error page is no sample of the site's article markup
                self._count(self.recorder.record_page(clean))
                return
            for name in EXTRACTED_FIELDS:
                self.sources[source_key(name, clean.extraction.get(name, "missing"))] += 1
            self.outcomes[Counted.PAGES] += 1
            if EMPTY_BODY in clean.flags:
                self.outcomes[EMPTY_BODY] += 1
            self._note_truncated(clean.url, clean.truncated)
            if clean.moved_from and self._is_live(clean.moved_from):
                self.moves.append(clean)
                return
            outcome = self.recorder.record_page(clean)
            self._count(outcome)
            for url in outcome.ask:
                cast(_Rechecks, self.crawler.spider).recheck(url)
        elif isinstance(item, Unchanged):
            item = normalise_unchanged(item)
            self._note_truncated(item.url, item.truncated)
            if item.parse is not None and not self._is_current(item.url):
                for parsed in item.parse():  # a 304 whose stored body is not yet a version
                    self._process(parsed)
                return
            self.outcomes[Counted.UNCHANGED] += 1
            self._count(self.recorder.record_unchanged(item))
        elif isinstance(item, Gone):
            page = self.archive.pages.page(item.url)
            if page is not None and page["status"] == PageStatus.LIVE:  # known pages can vanish
                self.gone.append(item)
            elif page is None:  # a queued URL never stored: settled, nothing to remove
                self.recorder.record_check(item.url, CheckOutcome.GONE, item.http_status)
        elif isinstance(item, Checked):
            self.recorder.record_check(item.url, item.outcome, item.http_status)

    def _note_truncated(self, url: str, fields: list[str]) -> None:
        """A value cut to its limit is kept on the version and counted, never silent."""
        if fields:
            self.outcomes[TRUNCATED] += 1
            log.warning("%s: cut to their limits: %s", url, ", ".join(fields))

    def _is_current(self, url: str) -> bool:
        """Is the stored body (what a 304 stands for) the live page's current version?"""
        page = self.archive.pages.page(url)
        info = self.archive.fetches.fetch_info(url)
        if not page or not info or page["status"] != PageStatus.LIVE:
            return False
        current = self.archive.pages.version(page["id"])
        return bool(current and current.get("raw_sha256") == info.get("raw_sha256"))

    def _is_live(self, url: str) -> bool:
        page = self.archive.pages.page(url)
        return page is not None and page["status"] == PageStatus.LIVE

    def _count(self, outcome: Outcome) -> None:
        if outcome.skipped:
            self.outcomes[outcome.skipped] += 1
        if outcome.change == ChangeKind.MOVED and outcome.url in self.counted_new:
            self.outcomes[self.counted_new.pop(outcome.url)] -= 1
        if outcome.change in (ChangeKind.NEW, ChangeKind.DUPLICATE):
            self.counted_new[outcome.url] = outcome.change
        if outcome.change:
            self.outcomes[outcome.change] += 1
        if outcome.flagged:
            self.outcomes[Counted.FLAGGED] += 1
            self.flagged.append(f"{outcome.url} ({', '.join(outcome.flagged)})")

    def _settle(self, store: Callable[[Any], Outcome], items: list[Any]) -> None:
        """Store observations held back to the run's end, each on its own as process_item
        does: one that fails is counted and logged, the others are still stored."""
        for item in items:
            if unwritable(self.crawler):
                return
            try:
                self._count(store(item))
            except ArchiveWriteError as exc:
                stop_unwritable(self.crawler, exc)
            except Exception:
                self.crawler.stats.inc_value(ERRORS)
                log.exception("could not store %s", item.url)

    def close_spider(self, spider: Any = None) -> None:
        if unwritable(self.crawler):
            return  # nothing more can be stored; the run's summary reports why
        limits, known = self.config.health, self.known_live
        # The alerts themselves are raised by aaltowatch.core.health.check_run from these stats.
        if exceeds_share(len(self.moves), known, limits.max_moved_share, limits):
            log.error(
                "%d of %d known %s pages answered 301 to other pages at once; not marking them"
                " moved",
                len(self.moves), known, self.kind,
            )  # fmt: skip
            self.outcomes[Counted.MASS_MOVE] += 1
            self.outcomes[Counted.MOVING] = len(self.moves)
        else:
            self._settle(self.recorder.record_page, self.moves)
        if exceeds_share(len(self.gone), known, limits.max_missing_share, limits):
            log.error(
                "%d of %d known %s pages answered 404/410 at once; not marking them removed",
                len(self.gone), known, self.kind,
            )  # fmt: skip
            self.outcomes[Counted.MASS_DISAPPEARANCE] += 1
            self.outcomes[Counted.GONE] = len(self.gone)
            for item in self.gone:  # what was seen is kept, though nothing is marked removed
                self.recorder.record_check(item.url, CheckOutcome.GONE, item.http_status)
        else:
            self._settle(self.recorder.record_gone, self.gone)
        stats = self.crawler.stats
        for key, value in self.outcomes.items():
            stats.set_value(outcome_key(key), value)
        for key, value in self.sources.items():
            stats.set_value(key, value)
        stats.set_value(RUN_ID, self.run_id)
        stats.set_value(KNOWN_LIVE, self.known_live)
