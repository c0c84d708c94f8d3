"""Apply a history decision (aaltowatch.core.decision) to the archive in one transaction
(`archive.history.apply`).

No rule lives here: the decision says what to write, this writes it, in the order that keeps
foreign keys and per-page check summaries right. A crawl killed mid-way leaves whole
observations or nothing.
"""

from __future__ import annotations

from typing import Any

from aaltowatch.core.decision import Decision, PageUpdate, Repoint, Retag
from storage.connection import Connection, Store
from storage.fetches import FetchStore
from storage.pages import PageStore
from storage.plan import PlanStore
from storage.runs import RunStore


def _ours(row: dict[str, Any], page_id: int | None) -> dict[str, Any]:
    return {**row, "page_id": page_id} if row["page_id"] is None else dict(row)


class History(Store):
    """The one writer of a page's history: it spans the page, fetch, plan and run stores, so
    it holds them; each write joins the decision's one transaction."""

    def __init__(
        self, db: Connection, fetches: FetchStore, pages: PageStore, plan: PlanStore, runs: RunStore
    ) -> None:
        super().__init__(db)
        self._fetches, self._pages, self._plan, self._runs = fetches, pages, plan, runs

    def apply(self, decision: Decision) -> int | None:
        """Write `decision`; returns the id of the observed page (None when none is stored)."""
        fetches, pages, plan, runs = self._fetches, self._pages, self._plan, self._runs
        with self.transaction():
            if decision.fetch:
                fetches.record_fetch(**decision.fetch)
            if decision.discard:
                plan.fold_checks(decision.discard.page_id, into=decision.discard.into)
                pages.discard_page(decision.discard.page_id)
            page_id = decision.page_id
            if decision.insert is not None:
                page_id = pages.insert_page(dict(decision.insert))
            for link in decision.links:
                if isinstance(link, PageUpdate):
                    pages.update_page(link.page_id, **link.values)
                elif isinstance(link, Repoint):
                    pages.repoint_duplicates(link.old_url, link.new_url)
                elif isinstance(link, Retag):
                    pages.retag_new_as_duplicate(link.page_id, link.run_id)
            if decision.version is not None:
                pages.add_version(_ours(decision.version, page_id))
            if decision.page and page_id is not None:
                pages.update_page(page_id, **decision.page)
            for change in decision.changes:
                pages.add_change(_ours(change, page_id))
            for alert in decision.alerts:
                runs.add_alert(
                    decision.run_id,
                    alert.check,
                    alert.message,
                    severity=alert.severity,
                    url=alert.url,
                )
            if decision.lastmod:
                fetches.set_sitemap_lastmods(dict([decision.lastmod]))
            for check in decision.checks:
                plan.add_check(
                    check.url,
                    check.outcome,
                    run_id=decision.run_id,
                    checked_at=decision.at or "",
                    http_status=check.http_status,
                    page_id=check.page_id,
                )
        return page_id
