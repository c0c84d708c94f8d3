"""Watches for people and scripts: the demo's watches, a watch's public record, one by name.

Parsing and checking watches is part of loading the config (aaltowatch.core.watchconfig).
"""

from __future__ import annotations

import logging
import sqlite3
import tomllib
from collections.abc import Sequence
from importlib import resources
from typing import Any

from aaltowatch.core.errors import ArchiveWriteError, ConfigError
from aaltowatch.core.watchconfig import Watch, parse_watches, target_label
from feeds.watches import feed_name
from storage.archive import Archive
from storage.watches import SyncReport

log = logging.getLogger(__name__)

DEMO_CONFIG = "demo.toml"


def demo_watches() -> tuple[Watch, ...]:
    """The watches of the bundled demo config (`aaltowatch/demo.toml`)."""
    source = resources.files("aaltowatch") / DEMO_CONFIG
    data = tomllib.loads(source.read_text(encoding="utf-8"))
    return parse_watches(data["aaltowatch"]["watch"], DEMO_CONFIG)


def watch_record(watch: Watch) -> dict[str, Any]:
    """A watch for people and scripts: never the notify URLs themselves, only masked."""
    return {
        "name": watch.name,
        "title": watch.title or watch.name,
        "query": watch.query,
        "kinds": list(watch.kinds),
        "langs": list(watch.langs),
        "categories": list(watch.categories),
        "changes": list(watch.changes),
        "digest": watch.digest or "none",
        "match": watch.match,
        "notify": [target_label(url) for url in watch.notify],
        "feed": f"{feed_name(watch)}.xml",
    }


def find_watch(watches: tuple[Watch, ...], name: str) -> Watch:
    for watch in watches:
        if watch.name == name:
            return watch
    known = ", ".join(w.name for w in watches) or "none configured"
    raise ConfigError(f"no watch named {name!r} (watches: {known})")


def match_watches(archive: Archive, watches: Sequence[Watch]) -> SyncReport | None:
    """Match the events recorded since the last pass (and some history of new watches) and
    store the matches; a failure is logged and retried by the next call, never raised into a
    run: the cursors only move with the matches they cover."""
    try:
        report = archive.watches.sync(watches)
    except (sqlite3.Error, OSError, ArchiveWriteError) as exc:
        log.error("watch matching failed: %s (retried next run)", exc)
        return None
    if report.events or report.backfilled:
        log.info(
            "watches: %d new event(s) and %d of history matched; %d match(es) stored",
            report.events,
            report.backfilled,
            sum(report.matched.values()),
        )
    return report
