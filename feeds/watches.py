"""One feed per watch (`watch-<name>.xml` / `.atom`): the change feed, narrowed to a query.

Entries are the change feed's own (`change_entry`): same ids, sanitising and diff rendering,
so a reader subscribed to both sees one item, not two.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from feeds.entries import Entry, FeedSpec
from storage import Archive
from storage.watches import watch_changes

if TYPE_CHECKING:
    from aaltowatch.core.watchconfig import Watch


def feed_name(watch: Watch) -> str:
    """The file stem of a watch's feeds: watch-<name>.xml and .atom."""
    return f"watch-{watch.name}"


def _filters(watch: Watch) -> str:
    parts = [
        f"{label} {', '.join(values)}"
        for label, values in (
            ("kinds", watch.kinds),
            ("languages", watch.langs),
            ("categories", watch.categories),
            ("changes", watch.changes),
        )
        if values
    ]
    return f" ({'; '.join(parts)})" if parts else ""


def watch_specs(
    archive: Archive,
    watches: Sequence[Watch],
    max_entries: int,
    entry: Callable[[dict[str, Any]], Entry],
) -> list[FeedSpec]:
    """A FeedSpec per watch; `entry` turns a change row into its (shared, cached) entry."""
    specs = []
    for watch in watches:
        rows = watch_changes(archive, watch, limit=max_entries)
        entries = sorted((entry(r) for r in rows), key=lambda e: e.updated, reverse=True)
        specs.append(
            FeedSpec(
                name=feed_name(watch),
                title=f"aaltowatch watch: {watch.title or watch.name}",
                description=(
                    f"Changes to www.aalto.fi pages matching {watch.query}{_filters(watch)}."
                ),
                entries=entries,
                group="Watches",
            )
        )
    return specs
