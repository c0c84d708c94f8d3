"""The history rules (docs/DESIGN.md §4) as pure decisions: stored state + observation -> what
to write. A version only when the fingerprint moved, `moved` continues a history under a new
URL, `removed` only on 404/410, duplicates point at the original, suspicious versions become
alerts instead of changes. `pipeline.recorder` reads the state and has storage apply the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from functools import partial
from typing import Any

from aaltowatch.core.decision import (
    Check,
    Decision,
    Discard,
    Outcome,
    PageUpdate,
    Repoint,
    Retag,
)
from aaltowatch.core.enums import ChangeKind, PageStatus
from aaltowatch.core.health import Alert
from aaltowatch.core.items import CheckOutcome, Gone, Unchanged
from pages.article import PageItem
from pages.fields import VERSION_COLUMNS
from pipeline.classify import Verdict, as_known, classify, unified_diff
from pipeline.dates import date_flags
from pipeline.fingerprint import content_hash, hamming

NEAR_DUPLICATE_DISTANCE = 3
# Live twins of a new page asked again in its run (a move's old URL is one of them).
MAX_ASKED_TWINS = 2
SOFT_404 = "soft_404"  # item flag set by pages.errorpage: the site's error page under a URL
# Changes that store a version: their declared dates are checked (pipeline.dates).
VERSIONED_CHANGES = frozenset(
    {ChangeKind.NEW, ChangeKind.DUPLICATE, ChangeKind.MODIFIED, ChangeKind.RESTORED}
)

Row = dict[str, Any]


@dataclass(frozen=True)
class Stored:
    """What the archive holds that an observation is judged by, read before deciding.

    The neighbours are the ones of the observation's duplicate hash and simhash bands, without
    the observed page and the page it moved from.
    """

    page: Row | None = None  # the page stored under the observed URL
    current: Row | None = None  # its latest version
    source: Row | None = None  # the page stored under `moved_from`
    source_current: Row | None = None
    twins: tuple[Row, ...] = ()  # live pages with the same duplicate hash, by URL
    dependants: tuple[Row, ...] = ()  # live duplicates of the URL whose hash differs, by URL
    source_dependants: tuple[Row, ...] = ()  # the same for the `moved_from` URL
    near: tuple[Row, ...] = ()  # live pages of the language sharing a simhash band
    dup_hash: str | None = None
    simhash: int = 0
    bands: tuple[int, int, int, int] = (0, 0, 0, 0)
    # Fields added after the archive was created, by their first version id (a version
    # before it was not extracted with them: pipeline.classify.as_known).
    field_since: Mapping[str, int] = dataclass_field(default_factory=dict)


def version_record(item: PageItem) -> Row:
    """The item's values of the version columns."""
    return {k: getattr(item, k) for k in VERSION_COLUMNS}


def check_outcome(outcome: Outcome) -> CheckOutcome:
    """What a 200 told about the page, for the `checks` table."""
    if outcome.flagged:
        return CheckOutcome.ERROR  # our extraction broke: the page's state is not known
    if outcome.change in (ChangeKind.NEW, ChangeKind.DUPLICATE):
        return CheckOutcome.NEW
    if outcome.change in (ChangeKind.MODIFIED, ChangeKind.RESTORED) or outcome.fields:
        return CheckOutcome.CHANGED
    return CheckOutcome.SAME


def _change(
    page_id: int | None,
    url: str,
    change: str,
    now: str,
    run_id: int | None,
    *,
    page: Row | None,
    prev: Row | None,
    fields: list[str] | None = None,
    version: Row | None = None,
    moved_from: str | None = None,
) -> Row:
    """A change event; one that stores a version carries its date flags (and diff)."""
    diff, flags = None, []
    if change in VERSIONED_CHANGES and version is not None:
        flags = date_flags(prev, version, now)
        if change in (ChangeKind.MODIFIED, ChangeKind.RESTORED):
            old_label = f"v{prev['version']}" if prev else ""
            diff = unified_diff(prev, version, old_label, f"v{version['version']}")
    return {
        "page_id": page_id,
        "run_id": run_id,
        "url": url,
        "change": change,
        "fields": fields or [],
        "detected_at": now,
        "version": version["version"] if version else (page or {}).get("current_version"),
        "previous_version": prev["version"] if prev else None,
        "moved_from": moved_from,
        "diff": diff,
        "flags": flags,
    }


def _version(
    page_id: int | None, number: int, record: Row, url: str, now: str, run_id: int | None
) -> Row:
    return {
        "page_id": page_id,
        "version": number,
        "run_id": run_id,
        "url": url,
        "fetched_at": now,
        "content_hash": content_hash(record),
        **record,
    }


def _released(dependants: tuple[Row, ...]) -> list[PageUpdate]:
    """Pages that duplicated a URL and no longer do (it changed or left) are originals again;
    among those still equal to each other the first URL stays the original."""
    originals: dict[str, str] = {}
    updates = []
    for twin in dependants:
        original = originals.setdefault(twin["dup_hash"], twin["url"])
        updates.append(
            PageUpdate(twin["id"], {"duplicate_of": None if original == twin["url"] else original})
        )
    return updates


def _fingerprints(
    url: str, lang: str, stored: Stored, dependants: tuple[Row, ...], run_id: int | None
) -> tuple[Row, list[PageUpdate | Retag]]:
    """Duplicate link (first URL is the original) and simhash near-duplicate, with the
    other pages' duplicate links that follow."""
    links: list[PageUpdate | Retag] = list(_released(dependants))
    twins = stored.twins
    duplicate_of = None
    if twins and twins[0]["url"] < url:
        duplicate_of = twins[0]["url"]
    else:
        for twin in twins:  # this page is the original now
            links.append(PageUpdate(twin["id"], {"duplicate_of": url}))
            # A twin first seen in this same run was no news after all: whichever of
            # the two was fetched first, the later URL is the one reported as duplicate.
            links.append(Retag(twin["id"], run_id))
    near = None
    if stored.simhash and not duplicate_of:
        for cand in stored.near:
            if (
                cand["simhash"]
                and hamming(cand["simhash"], stored.simhash) <= NEAR_DUPLICATE_DISTANCE
            ):
                near = cand["url"]
                break
    bands = stored.bands
    values = {
        "dup_hash": stored.dup_hash,
        "duplicate_of": duplicate_of,
        "near_duplicate_of": near,
        "simhash": stored.simhash,
        "sh0": bands[0],
        "sh1": bands[1],
        "sh2": bands[2],
        "sh3": bands[3],
    }
    return values, links


def _fresh_this_run(page: Row, current: Row | None, run_id: int | None) -> bool:
    return (
        page["version_count"] == 1
        and current is not None
        and current["version"] == 1
        and current["run_id"] == run_id
    )


@dataclass(frozen=True)
class _Move:
    """A 301 from a stored page: what the page's history continues from."""

    page: Row  # the page the observation now belongs to
    prev: Row | None  # its latest version
    dependants: tuple[Row, ...]
    check: Check
    links: tuple[PageUpdate | Repoint, ...]
    change: Row
    discard: Discard | None = None


def _move(item: PageItem, stored: Stored, run_id: int | None, now: str) -> _Move | None:
    """The history continues under the new URL. If the target was stored earlier in this same
    run (found through a listing before the old URL answered 301), that fresh copy is folded
    back into the old history; if it has a history of its own, the old page points at it."""
    url, page, source = item.url, stored.page, stored.source
    if (
        not item.moved_from
        or source is None
        or source["status"] == PageStatus.MOVED
        or (page is not None and page["id"] == source["id"])
    ):
        return None
    check = Check(source["url"], CheckOutcome.MOVED, 301, page_id=source["id"])
    event = partial(
        _change,
        source["id"],
        url,
        ChangeKind.MOVED,
        now,
        run_id,
        prev=None,
        moved_from=source["url"],
    )
    if page is not None and not _fresh_this_run(page, stored.current, run_id):
        link = PageUpdate(source["id"], {"status": PageStatus.MOVED, "moved_to": url})
        return _Move(page, stored.current, stored.dependants, check, (link,), event(page=source))
    moved = {**source, "url": url, "status": PageStatus.LIVE, "moved_to": None}
    links = (
        PageUpdate(source["id"], {"url": url, "status": PageStatus.LIVE, "moved_to": None}),
        Repoint(source["url"], url),
    )
    if page is not None:
        discard = Discard(page["id"], into=source["id"])
        dependants = stored.source_dependants  # the discarded page's duplicates were let go
    else:
        discard = None
        dependants = tuple(
            sorted(stored.dependants + stored.source_dependants, key=lambda row: row["url"])
        )
    return _Move(moved, stored.source_current, dependants, check, links, event(page=moved), discard)


def decide_page(
    item: PageItem, stored: Stored, *, run_id: int | None, now: str, replay: bool = False
) -> Decision:
    """A 200: a new page, a new version, a move, a restore, or only `last_seen` moving.

    Replaying stored HTML (reextract) is not seeing the page: no checks, `last_seen` stays.
    """
    move = _move(item, stored, run_id, now)
    base = Decision(Outcome(item.url), run_id=run_id, at=now, fetch=item.fetch)
    page: Row | None
    if move is not None:
        base = replace(base, discard=move.discard, links=move.links, changes=(move.change,))
        page, prev, dependants = move.page, move.prev, move.dependants
    else:
        page, prev, dependants = stored.page, stored.current, stored.dependants
    if page is not None:
        decision = _seen_page(
            item, page, prev, stored, dependants, base, moved=move is not None, replay=replay
        )
    elif SOFT_404 in item.flags:
        decision = replace(base, outcome=Outcome(item.url, skipped=SOFT_404))
    else:
        decision = _new_page(item, stored, base, dependants)
    return _with_check(decision, [move.check] if move else [], item, replay)


def _seen_page(
    item: PageItem,
    page: Row,
    prev: Row | None,
    stored: Stored,
    dependants: tuple[Row, ...],
    base: Decision,
    *,
    moved: bool,
    replay: bool,
) -> Decision:
    """A 200 of a stored page: a new version, a suspicious one held back, a restore."""
    url, now, run_id = item.url, base.at or "", base.run_id
    change = ChangeKind.MOVED if moved else None
    links, changes = list(base.links), list(base.changes)
    record = version_record(item)
    if not item.categories and prev and prev["categories"]:
        # Categories come only from teasers; an article off the listings keeps its own.
        record["categories"] = prev["categories"]
    if prev is not None:
        prev = as_known(prev, record, stored.field_since)
    verdict = classify(
        prev, record, old_extraction=page["extraction"], new_extraction=item.extraction
    )
    if SOFT_404 in item.flags and verdict.change == "modified":
        verdict = Verdict("flagged", verdict.fields, [SOFT_404])
    touch: Row = {"http_status": item.http_status}
    if not replay:
        touch["last_seen"] = now
    if page["status"] != PageStatus.LIVE:
        touch.update(status=PageStatus.LIVE, moved_to=None)
        change = change or ChangeKind.RESTORED
    event = partial(_change, page["id"], url, now=now, run_id=run_id, page=page, prev=prev)
    if verdict.change == "flagged":
        alert = Alert(
            "suspicious_version",
            f"{url}: new version not stored ({', '.join(verdict.reasons)};"
            f" fields {', '.join(verdict.fields)})",
            severity="warning",
            url=url,
        )
        if change:
            changes.append(event(change=change))
        return replace(
            base,
            outcome=Outcome(url, change, flagged=verdict.reasons),
            page_id=page["id"],
            page=touch,
            changes=tuple(changes),
            alerts=(alert,),
        )
    version = None
    fields: list[str] = []
    if verdict.change == "modified":
        version = _version(page["id"], page["version_count"] + 1, record, url, now, run_id)
        values, others = _fingerprints(url, item.lang, stored, dependants, run_id)
        links += others
        touch.update(values)
        touch.update(
            content_hash=version["content_hash"],
            current_version=version["version"],
            version_count=version["version"],
            last_changed=now,
            extraction=item.extraction,
        )
        kind = ChangeKind.RESTORED if change == ChangeKind.RESTORED else ChangeKind.MODIFIED
        changes.append(event(change=kind, fields=verdict.fields, version=version))
        change = change if change == ChangeKind.MOVED else kind
        fields = verdict.fields
    elif change == ChangeKind.RESTORED:
        changes.append(event(change=ChangeKind.RESTORED))
    return replace(
        base,
        outcome=Outcome(url, change, fields),
        page_id=page["id"],
        links=tuple(links),
        version=version,
        page=touch,
        changes=tuple(changes),
        lastmod=(url, item.sitemap_lastmod) if item.sitemap_lastmod else None,
    )


def _with_check(decision: Decision, before: list[Check], item: PageItem, replay: bool) -> Decision:
    """The observation's check comes last: it sees the page as the decision leaves it."""
    if replay:  # nothing is asked either: replaying stored HTML is not crawling
        return replace(decision, outcome=replace(decision.outcome, ask=()))
    own = Check(item.url, check_outcome(decision.outcome), item.http_status)
    return replace(decision, checks=(*before, own))


def _new_page(
    item: PageItem, stored: Stored, base: Decision, dependants: tuple[Row, ...]
) -> Decision:
    now, run_id = base.at or "", base.run_id
    record = version_record(item)
    version = _version(None, 1, record, item.url, now, run_id)
    values, links = _fingerprints(item.url, item.lang, stored, dependants, run_id)
    change = ChangeKind.DUPLICATE if values["duplicate_of"] else ChangeKind.NEW
    event = _change(None, item.url, change, now, run_id, page=None, prev=None, version=version)
    # A new URL with a live page's very content: that page may have moved here. Its own URL
    # is asked in this run; a 301 to here folds this copy into its history (_move).
    ask = tuple(twin["url"] for twin in stored.twins[:MAX_ASKED_TWINS])
    return replace(
        base,
        outcome=Outcome(item.url, change, ask=ask),
        insert={
            "url": item.url,
            "kind": item.kind,
            "lang": item.lang,
            "first_seen": now,
            "last_seen": now,
            "last_changed": now,
            "http_status": item.http_status,
            "extraction": item.extraction,
        },
        links=tuple(links),
        version=version,
        page={
            "content_hash": version["content_hash"],
            "current_version": 1,
            "version_count": 1,
            **values,
        },
        changes=(event,),
        lastmod=(item.url, item.sitemap_lastmod) if item.sitemap_lastmod else None,
    )


def decide_unchanged(
    item: Unchanged,
    page: Row | None,
    current: Row | None,
    *,
    run_id: int | None,
    now: str,
    replay: bool = False,
) -> Decision:
    """A 304 or an unmoved sitemap lastmod: only last_seen moves (categories may still)."""
    base = Decision(Outcome(item.url), run_id=run_id, at=now, fetch=item.fetch)
    if page is None:
        return base
    checks: tuple[Check, ...] = ()
    if item.reason == "304" and not replay:
        checks = (Check(item.url, CheckOutcome.NOT_MODIFIED, 304),)
    lastmod = (item.url, item.sitemap_lastmod) if item.sitemap_lastmod else None
    touch: Row = {"last_seen": now}
    categories = sorted(set(item.categories or []))
    if not (categories and current and categories != sorted(current["categories"])):
        return replace(base, page_id=page["id"], page=touch, lastmod=lastmod, checks=checks)
    record = {k: current[k] for k in VERSION_COLUMNS}
    record["categories"] = categories
    cut = set(current.get("truncated") or []) - {"categories"} | set(item.truncated)
    record["truncated"] = sorted(cut)
    version = _version(page["id"], page["version_count"] + 1, record, page["url"], now, run_id)
    touch.update(
        current_version=version["version"],
        version_count=version["version"],
        last_changed=now,
        content_hash=version["content_hash"],
    )
    change = _change(
        page["id"],
        page["url"],
        ChangeKind.MODIFIED,
        now,
        run_id,
        page=page,
        prev=current,
        fields=["categories"],
        version=version,
    )
    return replace(
        base,
        outcome=Outcome(item.url, ChangeKind.MODIFIED, ["categories"]),
        page_id=page["id"],
        version=version,
        page=touch,
        changes=(change,),
        lastmod=lastmod,
        checks=checks,
    )


def decide_gone(
    item: Gone,
    page: Row | None,
    current: Row | None,
    dependants: tuple[Row, ...],
    *,
    run_id: int | None,
    now: str,
    replay: bool = False,
) -> Decision:
    """404/410 on a live page: removed; its duplicates are originals again. The caller guards
    against mass disappearance."""
    if page is None or page["status"] != PageStatus.LIVE:
        return Decision(Outcome(item.url), run_id=run_id, at=now)
    removed = _change(
        page["id"], page["url"], ChangeKind.REMOVED, now, run_id, page=page, prev=current
    )
    return Decision(
        Outcome(item.url, ChangeKind.REMOVED),
        run_id=run_id,
        at=now,
        page_id=page["id"],
        links=tuple(_released(dependants)),
        page={"status": PageStatus.REMOVED, "http_status": item.http_status, "last_seen": now},
        changes=(removed,),
        checks=() if replay else (Check(item.url, CheckOutcome.GONE, item.http_status),),
    )


def decide_check(
    url: str,
    outcome: CheckOutcome,
    http_status: int | None,
    *,
    run_id: int | None,
    now: str,
    replay: bool = False,
) -> Decision:
    """A check that changes nothing else: an error, a 404 held back by the mass guard, a URL
    never stored that answered 404 or 301."""
    checks = () if replay else (Check(url, outcome, http_status),)
    return Decision(Outcome(url), run_id=run_id, at=now, checks=checks)
