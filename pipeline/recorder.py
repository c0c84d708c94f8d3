"""Record observations: read the page's stored state, decide (pipeline.history), apply
(storage.history), all in one transaction per observation."""

from __future__ import annotations

import logging
from typing import Any

from aaltowatch.core.decision import Decision, Outcome
from aaltowatch.core.enums import PageStatus
from aaltowatch.core.items import CheckOutcome, Gone, Unchanged
from aaltowatch.core.text import utc_now
from pages.article import PageItem
from pipeline.fingerprint import duplicate_hash, simhash, simhash_bands
from pipeline.history import (
    SOFT_404,
    Stored,
    decide_check,
    decide_gone,
    decide_page,
    decide_unchanged,
    version_record,
)
from storage import Archive
from storage.migrations import field_since

log = logging.getLogger(__name__)


class Recorder:
    """Stores the observations of one run."""

    def __init__(self, archive: Archive, run_id: int | None, *, replay: bool = False) -> None:
        self.archive = archive
        self.run_id = run_id
        # Replaying stored HTML (reextract) is not seeing the page: last_seen stays.
        self.replay = replay
        self.field_since = field_since(archive.db)

    def _apply(self, decision: Decision) -> Outcome:
        self.archive.history.apply(decision)
        return decision.outcome

    def stored(self, item: PageItem) -> Stored:
        """The page, a move's source, and the neighbours of the item's fingerprints."""
        archive = self.archive
        page = archive.pages.page(item.url)
        source = archive.pages.page(item.moved_from) if item.moved_from else None
        involved = {p["id"] for p in (page, source) if p}
        dup = duplicate_hash(version_record(item))
        sh = simhash(item.body or "")
        bands = simhash_bands(sh)

        def others(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
            return tuple(r for r in rows if r["id"] not in involved)

        return Stored(
            page=page,
            current=archive.pages.version(page["id"]) if page else None,
            source=source,
            source_current=archive.pages.version(source["id"]) if source else None,
            twins=others(archive.pages.live_pages_with_dup_hash(dup, None)),
            dependants=others(archive.pages.duplicates_of(item.url, other_than=dup)),
            source_dependants=(
                others(archive.pages.duplicates_of(source["url"], other_than=dup)) if source else ()
            ),
            near=others(archive.pages.near_duplicate_candidates(bands, item.lang, None))
            if sh
            else (),
            dup_hash=dup,
            simhash=sh,
            bands=bands,
            field_since=self.field_since,
        )

    def record_page(self, item: PageItem) -> Outcome:
        """Store one 200 and its check in one transaction."""
        now = item.fetched_at or utc_now()
        with self.archive.transaction():
            decision = decide_page(
                item, self.stored(item), run_id=self.run_id, now=now, replay=self.replay
            )
            if decision.outcome.skipped == SOFT_404:
                log.warning("%s: an error page served as 200 (soft 404); not stored", item.url)
            return self._apply(decision)

    def record_unchanged(self, item: Unchanged, now: str | None = None) -> Outcome:
        """A 304 or an unmoved sitemap lastmod."""
        with self.archive.transaction():
            page = self.archive.pages.page(item.url)
            current = self.archive.pages.version(page["id"]) if page else None
            decision = decide_unchanged(
                item, page, current, run_id=self.run_id, now=now or utc_now(), replay=self.replay
            )
            return self._apply(decision)

    def record_gone(self, item: Gone) -> Outcome:
        """404/410 on a live page: removed. The caller guards against mass disappearance."""
        with self.archive.transaction():
            page = self.archive.pages.page(item.url)
            live = page is not None and page["status"] == PageStatus.LIVE
            current = self.archive.pages.version(page["id"]) if live and page is not None else None
            dependants = self.archive.pages.duplicates_of(item.url, other_than=None) if live else []
            decision = decide_gone(
                item, page, current, tuple(dependants), run_id=self.run_id,
                now=item.fetched_at or utc_now(), replay=self.replay,
            )  # fmt: skip
            return self._apply(decision)

    def record_check(self, url: str, outcome: CheckOutcome, http_status: int | None = None) -> None:
        """A check that changes nothing else."""
        decision = decide_check(
            url, outcome, http_status, run_id=self.run_id, now=utc_now(), replay=self.replay
        )
        self._apply(decision)
