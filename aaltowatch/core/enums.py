"""The closed sets of names the archive stores as text: one enum each, so a typo is an error.

They are `StrEnum`s: a member is the very string stored in SQLite and written to JSON, so
storage, export and feeds compare and print them unchanged. Page kinds are the site model's
(`core.urls.KINDS`, one per section).
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """`runs.status`: how a spider's run ended (or that it has not yet)."""

    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    UNHEALTHY = "unhealthy"
    INTERRUPTED = "interrupted"
    # A run left `running` by a process that is gone (found by the next run).
    ABANDONED = "abandoned"


class ChangeKind(StrEnum):
    """`changes.change`: what happened to a page."""

    NEW = "new"
    MODIFIED = "modified"
    REMOVED = "removed"
    RESTORED = "restored"
    MOVED = "moved"
    # A new page whose content another page already has: recorded, never a feed entry.
    DUPLICATE = "duplicate"


# The change kinds a feed shows, in this order (a duplicate is never an entry of its own).
FEED_CHANGES = tuple(k for k in ChangeKind if k is not ChangeKind.DUPLICATE)


class PageStatus(StrEnum):
    """`pages.status`: whether the page is still at its URL."""

    LIVE = "live"
    REMOVED = "removed"
    MOVED = "moved"


def change_label(kind: str) -> str:
    """How feeds and notifications name a change kind (as stored): "Modified"."""
    return kind.capitalize()
