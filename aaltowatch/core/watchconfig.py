"""Watches from the config: parsed and checked once, when the config is loaded.

A bad watch is a one-line config error (exit 2) at start-up, not a failure hours later in the
middle of a run: the query is compiled by SQLite FTS5 exactly as `search` would send it, and
every notify URL is loaded by Apprise. Error messages never echo a notify URL (it may carry a
password or token): only its scheme, or its label (aaltowatch.core.targets).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aaltowatch.core.enums import FEED_CHANGES
from aaltowatch.core.errors import ConfigError, QueryError
from aaltowatch.core.query import fts_query
from aaltowatch.core.targets import label
from aaltowatch.core.urls import KINDS, LANGS

DIGESTS = ("", "daily")
# What a `modified` event is matched against: the words it changed (changedetection.io's trigger
# text), or the whole page. Other events (new, removed, restored, moved) always match the page.
MATCH_CHANGED, MATCH_PAGE = "changed", "page"
MATCHES = (MATCH_CHANGED, MATCH_PAGE)
# Names become file names (watch-<name>.xml) and URL paths: keep them plain.
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# `notify = ["env:NAME"]`: the URL is the value of the environment variable NAME (a systemd
# credential or EnvironmentFile), so the config file itself can hold no secret.
ENV_REF = re.compile(r"^env:([A-Za-z_][A-Za-z0-9_]*)$")
LISTS = {
    "kinds": KINDS,
    "langs": LANGS,
    "changes": FEED_CHANGES,
    "categories": None,
    "notify": None,
}


@dataclass(frozen=True)
class Watch:
    """A saved search (`[[aaltowatch.watch]]`): the change events that match `query` and the
    filters get a feed `watch-<name>.xml` and, with `notify`, a message each. An edit matches
    by the words it changed unless `match = "page"`."""

    name: str
    query: str  # the syntax of `aaltowatch search`
    title: str = ""  # the feed's title; default: the name
    kinds: tuple[str, ...] = ()  # news, partnership; empty = all
    langs: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # any of these, as shown on the site
    changes: tuple[str, ...] = ()  # new, modified, removed, restored, moved; empty = all
    notify: tuple[str, ...] = field(default=(), repr=False)  # Apprise URLs: may hold secrets
    digest: str = ""  # "" = one message per event; "daily" = one per UTC day
    match: str = MATCH_CHANGED  # what a `modified` event is matched against (MATCHES)

    @property
    def spec(self) -> str:
        """What decides the watch's matches, hashed: a watch whose spec changes is matched
        over the archive's history again (its notify targets and title are not part of it)."""
        what = [self.query, self.kinds, self.langs, self.categories, self.changes, self.match]
        return hashlib.sha256(json.dumps(what).encode()).hexdigest()[:16]


def parse_watches(
    tables: Any, where: str, environ: Mapping[str, str] | None = None
) -> tuple[Watch, ...]:
    """`[[aaltowatch.watch]]` tables -> Watch objects, or a ConfigError naming the problem.
    `env:NAME` notify entries are read from `environ` (default: the process environment)."""
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{where}: watches are [[aaltowatch.watch]] tables")
    watches: list[Watch] = []
    for index, table in enumerate(tables, 1):
        watch = _parse_one(table, where, index, os.environ if environ is None else environ)
        if any(w.name == watch.name for w in watches):
            raise ConfigError(f"{where}: two watches are named {watch.name!r}")
        watches.append(watch)
    return tuple(watches)


def _parse_one(table: dict[str, Any], path: str, index: int, environ: Mapping[str, str]) -> Watch:
    known = {"name", "query", "title", "digest", "match", *LISTS}
    unknown = sorted(set(table) - known)
    where = f"{path}: watch #{index}"
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    name = table.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise ConfigError(
            f"{where}: name {name!r} must be 1-63 lower-case letters, digits, '-' or '_'"
            " (it names the feed file watch-<name>.xml)"
        )
    where = f"{path}: watch {name!r}"
    query = table.get("query")
    if not isinstance(query, str):
        raise ConfigError(f'{where}: query must be a string, e.g. query = "Vantaa"')
    try:
        fts_query(query)
    except QueryError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    values: dict[str, Any] = {}
    for key, allowed in LISTS.items():
        values[key] = _string_list(table.get(key, []), key, allowed, where)
    digest = table.get("digest", "")
    digest = "" if digest in (None, "none") else digest
    if digest not in DIGESTS:
        raise ConfigError(f'{where}: digest must be "daily" or "none", not {digest!r}')
    match = table.get("match", MATCH_CHANGED)
    if match not in MATCHES:
        raise ConfigError(
            f'{where}: match must be "changed" (the words an edit changed) or "page"'
            f" (the whole page), not {match!r}"
        )
    title = table.get("title", "")
    if not isinstance(title, str):
        raise ConfigError(f"{where}: title must be a string")
    values["notify"] = tuple(_notify_url(entry, environ, where) for entry in values["notify"])
    labels = [target_label(url, where) for url in values["notify"]]
    twice = [lab for i, lab in enumerate(labels) if lab in labels[:i]]
    if twice:
        raise ConfigError(
            f"{where}: two notify URLs differ only in their secrets (both are {twice[0]})"
        )
    return Watch(name=name, query=query, title=title, digest=digest, match=match, **values)


def _string_list(
    value: Any, key: str, allowed: tuple[str, ...] | None, where: str
) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v.strip() for v in items):
        raise ConfigError(f"{where}: {key} must be a list of strings")
    if allowed is not None:
        for item in items:
            if item not in allowed:
                raise ConfigError(f"{where}: {key} has {item!r}; choose from {', '.join(allowed)}")
    return tuple(dict.fromkeys(v.strip() for v in items))


def _notify_url(entry: str, environ: Mapping[str, str], where: str) -> str:
    ref = ENV_REF.match(entry)
    if ref is None:
        return entry
    url = environ.get(ref.group(1), "").strip()
    if not url:
        raise ConfigError(f"{where}: notify {entry}: the environment variable is not set")
    return url


@contextmanager
def _apprise_quiet() -> Iterator[None]:
    """Apprise logs a URL it cannot parse verbatim; ours may hold a password."""
    logger = logging.getLogger("apprise")
    before = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = before


def load_target(url: str) -> Any:
    """The Apprise service for one notify URL, or None when Apprise cannot use it."""
    import apprise

    with _apprise_quiet():
        bundle = apprise.Apprise()
        # A string holding several URLs (spaces, commas) would add several: one URL each.
        if not bundle.add(url) or len(bundle) != 1:
            return None
    return bundle


def target_label(url: str, where: str = "notify") -> str:
    """The target's label (scheme, host, short hash): what logs, status, feeds and the archive
    show, and the key of its delivery ledger."""
    bundle = load_target(url)
    if bundle is None:
        scheme = url.split("://", 1)[0] if "://" in url else "(no scheme)"
        raise ConfigError(
            f"{where}: a notify URL ({scheme}://…) is not a valid Apprise URL;"
            " see https://github.com/caronc/apprise/wiki"
        )
    return label(bundle[0].url(privacy=True))
