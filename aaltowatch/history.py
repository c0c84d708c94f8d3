"""One page's story: its versions, its change events, and diffs between any two versions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aaltowatch.core.errors import AaltowatchError
from aaltowatch.core.urls import canonical_url
from pipeline.classify import unified_diff
from storage import Archive
from storage.export import change_record


def _page(archive: Archive, url: str, base_url: str | None = None) -> dict[str, Any]:
    key = canonical_url(url, base_url)
    page = archive.pages.page(key)
    if page is None:
        moved = archive.pages.page_moved_from(key)
        if moved is None:
            raise AaltowatchError(f"{key} is not in the archive")
        page = moved
    return page


def page_history(archive: Archive, url: str, base_url: str | None = None) -> dict[str, Any]:
    page = _page(archive, url, base_url)
    versions = [
        {k: v for k, v in row.items() if k not in ("body_html",)}
        for row in archive.pages.versions(page["id"])
    ]
    changes = [change_record(r) for r in reversed(archive.pages.changes_of_page(page["id"]))]
    public = {
        k: page[k]
        for k in (
            "url",
            "kind",
            "lang",
            "status",
            "first_seen",
            "last_seen",
            "last_changed",
            "version_count",
            "duplicate_of",
            "near_duplicate_of",
            "content_hash",
        )
    }
    return {
        "page": public,
        "versions": versions,
        "changes": changes,
        "checks": check_summary(archive, page["id"]),
    }


def check_summary(archive: Archive, page_id: int, recent: int = 20) -> dict[str, Any]:
    """When the page was last verified, how often it was checked (`count`: every check, as
    `recent` lists them; `verified`: those that got the page) and found changed, and its
    latest checks (newest first)."""
    if not archive.plan.has_checks():
        return {
            "last_verified": None,
            "last_attempt": None,
            "count": 0,
            "verified": 0,
            "changed": 0,
            "recent": [],
        }
    stats = archive.plan.check_stats(page_id) or {}
    return {
        "last_verified": stats.get("last_checked"),
        "last_attempt": stats.get("last_attempt"),
        "count": archive.plan.count_checks(page_id),
        "verified": stats.get("checks", 0),
        "changed": stats.get("changes", 0),
        "recent": archive.plan.checks_of_page(page_id, recent),
    }


@dataclass(frozen=True)
class VersionDiff:
    url: str
    old: int
    new: int
    text: str


def version_diff(
    archive: Archive, url: str, old: int | None, new: int | None, base_url: str | None = None
) -> VersionDiff:
    """The unified diff of two versions (by default the current one and the one before);
    `old == new` when the page has only one version."""
    page = _page(archive, url, base_url)
    new = page["current_version"] if new is None else new
    old = max(1, new - 1) if old is None else old
    before = archive.pages.version(page["id"], old)
    after = archive.pages.version(page["id"], new)
    if before is None or after is None:
        raise AaltowatchError(
            f"{page['url']} has versions 1..{page['version_count']}; asked for {old} and {new}"
        )
    text = unified_diff(before, after, f"{page['url']} v{old}", f"{page['url']} v{new}")
    return VersionDiff(page["url"], old, new, text)
