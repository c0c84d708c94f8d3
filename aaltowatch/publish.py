"""Feeds as the configuration asks for them: the one call `feeds`, `run --once`, the scheduler
and the demo share, so a new feed option is passed in one place."""

from __future__ import annotations

from aaltowatch.core.config import Config
from aaltowatch.watches import match_watches
from feeds.build import FeedReport, build_feeds, build_health
from storage.archive import Archive


def publish_feeds(archive: Archive, config: Config) -> FeedReport:
    """Write every feed, the OPML and the index page into `config.feeds_dir`; the events
    recorded since the last call are matched against the watches first (when writable)."""
    if not archive.readonly:
        match_watches(archive, config.watches)
    return build_feeds(
        archive,
        config.feeds_dir,
        max_entries=config.feed_max_entries,
        max_categories=config.max_category_feeds,
        feeds_base_url=config.feeds_base_url,
        watches=config.watches,
    )


def publish_health(
    archive: Archive, config: Config, previous: FeedReport | None = None
) -> FeedReport:
    """health.xml/.atom and the index's alerts, from the alerts alone (the last step of a run)."""
    return build_health(
        archive,
        config.feeds_dir,
        previous,
        max_entries=config.feed_max_entries,
        feeds_base_url=config.feeds_base_url,
    )
