"""Apply a history decision (aaltowatch.core.decision) to the archive in one transaction.

No rule lives here: the decision says what to write, this writes it, in the order that keeps
foreign keys and per-page check summaries right. A crawl killed mid-way leaves whole
observations or nothing.
"""

from __future__ import annotations

from typing import Any

from aaltowatch.core.decision import Decision, PageUpdate, Repoint, Retag
from storage.archive import Archive


def _ours(row: dict[str, Any], page_id: int | None) -> dict[str, Any]:
    return {**row, "page_id": page_id} if row["page_id"] is None else dict(row)


def apply(archive: Archive, decision: Decision) -> int | None:
    """Write `decision`; returns the id of the observed page (None when none is stored)."""
    with archive.transaction():
        if decision.fetch:
            archive.record_fetch(**decision.fetch)
        if decision.discard:
            archive.fold_checks(decision.discard.page_id, into=decision.discard.into)
            archive.discard_page(decision.discard.page_id)
        page_id = decision.page_id
        if decision.insert is not None:
            page_id = archive.insert_page(dict(decision.insert))
        for link in decision.links:
            if isinstance(link, PageUpdate):
                archive.update_page(link.page_id, **link.values)
            elif isinstance(link, Repoint):
                archive.repoint_duplicates(link.old_url, link.new_url)
            elif isinstance(link, Retag):
                archive.retag_new_as_duplicate(link.page_id, link.run_id)
        if decision.version is not None:
            archive.add_version(_ours(decision.version, page_id))
        if decision.page and page_id is not None:
            archive.update_page(page_id, **decision.page)
        for change in decision.changes:
            archive.add_change(_ours(change, page_id))
        for alert in decision.alerts:
            archive.add_alert(
                decision.run_id, alert.check, alert.message, severity=alert.severity, url=alert.url
            )
        if decision.lastmod:
            archive.set_sitemap_lastmods(dict([decision.lastmod]))
        for check in decision.checks:
            archive.add_check(
                check.url,
                check.outcome,
                run_id=decision.run_id,
                checked_at=decision.at or "",
                http_status=check.http_status,
                page_id=check.page_id,
            )
    return page_id
