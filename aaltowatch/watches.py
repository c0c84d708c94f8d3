"""Watches for people and scripts: the demo's watches, a watch's public record, one by name.

Parsing and checking watches is part of loading the config (aaltowatch.core.watchconfig).
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

from aaltowatch.core.errors import ConfigError
from aaltowatch.core.watchconfig import Watch, parse_watches, target_label
from feeds.watches import feed_name

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
        "notify": [target_label(url) for url in watch.notify],
        "feed": f"{feed_name(watch)}.xml",
    }


def find_watch(watches: tuple[Watch, ...], name: str) -> Watch:
    for watch in watches:
        if watch.name == name:
            return watch
    known = ", ".join(w.name for w in watches) or "none configured"
    raise ConfigError(f"no watch named {name!r} (watches: {known})")
