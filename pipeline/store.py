"""Apply the pure stages to the archive: one transaction per observed page.

This is where the history rules live (docs/DESIGN.md §4): a version only when the fingerprint
moved, `moved` continues a history under a new URL, `removed` only on 404/410, duplicates
point at the original, suspicious versions become alerts instead of changes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from aaltowatch.core.items import CheckOutcome, Gone, PageItem, Unchanged
from pipeline.classify import Verdict, classify, unified_diff
from pipeline.dates import date_flags
from pipeline.fingerprint import content_hash, duplicate_hash, hamming, simhash, simhash_bands
from storage import Archive
from storage.archive import utcnow

log = logging.getLogger(__name__)

NEAR_DUPLICATE_DISTANCE = 3
SOFT_404 = "soft_404"  # item flag set by pages.errorpage: the site's error page under a URL
# Changes that store a version: their declared dates are checked (pipeline.dates).
VERSIONED_CHANGES = frozenset({"new", "duplicate", "modified", "restored"})
VERSION_COLUMNS = (
    "title",
    "lead",
    "body",
    "body_html",
    "published",
    "updated",
    "categories",
    "contacts",
    "images",
    "translations",
    "http_status",
    "raw_sha256",
)


@dataclass
class Outcome:
    """What one observation did to the archive, for run counters and health checks."""

    url: str
    change: str | None = None  # new | modified | moved | restored | removed | duplicate | None
    fields: list[str] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)
    skipped: str | None = None  # why nothing was stored (soft_404)


def _record(item: PageItem) -> dict[str, Any]:
    return {k: getattr(item, k) for k in VERSION_COLUMNS}


def check_outcome(outcome: Outcome) -> CheckOutcome:
    """What a 200 told about the page, for the `checks` table."""
    if outcome.flagged:
        return CheckOutcome.ERROR  # our extraction broke: the page's state is not known
    if outcome.change in ("new", "duplicate"):
        return CheckOutcome.NEW
    if outcome.change in ("modified", "restored") or outcome.fields:
        return CheckOutcome.CHANGED
    return CheckOutcome.SAME


class Recorder:
    """Stores observations of one run."""

    def __init__(self, archive: Archive, run_id: int | None, *, replay: bool = False) -> None:
        self.archive = archive
        self.run_id = run_id
        # Replaying stored HTML (reextract) is not seeing the page: last_seen stays.
        self.replay = replay

    def _check(
        self, url: str, outcome: CheckOutcome, now: str, http_status: int | None = None
    ) -> None:
        """Record a check (inside the caller's page transaction); replays are not checks."""
        if not self.replay:
            self.archive.add_check(
                url, outcome, run_id=self.run_id, checked_at=now, http_status=http_status
            )

    # -- pages ----------------------------------------------------------------------------
    def page(self, item: PageItem) -> Outcome:
        """Store one 200 and its check in one transaction."""
        now = item.fetched_at or utcnow()
        with self.archive.transaction():
            outcome = self._page(item)
            self._check(item.url, check_outcome(outcome), now, item.http_status)
        return outcome

    def _page(self, item: PageItem) -> Outcome:
        archive = self.archive
        now = item.fetched_at or utcnow()
        with archive.transaction():
            if item.fetch:
                archive.record_fetch(**item.fetch)
            page = archive.page(item.url)
            outcome = Outcome(item.url)
            if item.moved_from:
                page = self._moved(item, page, now, outcome)
            if page is None:
                if SOFT_404 in item.flags:
                    log.warning("%s: an error page served as 200 (soft 404); not stored", item.url)
                    outcome.skipped = SOFT_404
                    return outcome
                return self._new_page(item, now, outcome)
            prev = archive.version(page["id"])
            record = _record(item)
            if not item.categories and prev and prev["categories"]:
                # Categories come only from teasers; an article off the listings keeps its own.
                record["categories"] = prev["categories"]
            verdict = classify(
                prev, record, old_extraction=page["extraction"], new_extraction=item.extraction
            )
            if SOFT_404 in item.flags and verdict.change == "modified":
                verdict = Verdict("flagged", verdict.fields, [SOFT_404])
            touch: dict[str, Any] = {"http_status": item.http_status}
            if not self.replay:
                touch["last_seen"] = now
            if page["status"] != "live":
                touch.update(status="live", moved_to=None)
                outcome.change = outcome.change or "restored"
            if verdict.change == "flagged":
                outcome.flagged = verdict.reasons
                archive.update_page(page["id"], **touch)
                archive.add_alert(
                    self.run_id,
                    "suspicious_version",
                    f"{item.url}: new version not stored ({', '.join(verdict.reasons)};"
                    f" fields {', '.join(verdict.fields)})",
                    severity="warning",
                    url=item.url,
                )
                if outcome.change:
                    self._change(page["id"], item.url, outcome.change, now, [], page, prev)
                return outcome
            if verdict.change == "modified":
                version, digest = self._version(page, record, item, now)
                touch.update(self._fingerprints(page["id"], item, record))
                touch.update(
                    content_hash=digest,
                    current_version=version,
                    version_count=page["version_count"] + 1,
                    last_changed=now,
                    extraction=item.extraction,
                )
                archive.update_page(page["id"], **touch)
                kind = "restored" if outcome.change == "restored" else "modified"
                if outcome.change == "moved":
                    self._change(
                        page["id"], item.url, "modified", now, verdict.fields, page, prev, version
                    )
                else:
                    self._change(
                        page["id"], item.url, kind, now, verdict.fields, page, prev, version
                    )
                outcome.change = outcome.change if outcome.change == "moved" else kind
                outcome.fields = verdict.fields
            else:
                archive.update_page(page["id"], **touch)
                if outcome.change == "restored":
                    self._change(page["id"], item.url, "restored", now, [], page, prev)
            self._remember_lastmod(item.url, item.sitemap_lastmod)
            return outcome

    def _new_page(self, item: PageItem, now: str, outcome: Outcome) -> Outcome:
        archive = self.archive
        page_id = archive.insert_page(
            {
                "url": item.url,
                "kind": item.kind,
                "lang": item.lang,
                "first_seen": now,
                "last_seen": now,
                "last_changed": now,
                "http_status": item.http_status,
                "extraction": item.extraction,
            }
        )
        page = archive.page_by_id(page_id)
        assert page is not None
        record = _record(item)
        version, digest = self._version(page, record, item, now)
        fingerprints = self._fingerprints(page_id, item, record)
        archive.update_page(
            page_id, content_hash=digest, current_version=version, version_count=1, **fingerprints
        )
        change = "duplicate" if fingerprints["duplicate_of"] else "new"
        self._change(page_id, item.url, change, now, [], page, None, version)
        self._remember_lastmod(item.url, item.sitemap_lastmod)
        outcome.change = change
        return outcome

    def _moved(
        self, item: PageItem, page: dict[str, Any] | None, now: str, outcome: Outcome
    ) -> dict[str, Any] | None:
        """A 301 from a stored page: its history continues under the new URL.

        If the target was already stored earlier in this same run (found through a listing
        before the old URL answered 301), that fresh copy is folded back into the old history.
        """
        source = self.archive.page(item.moved_from)  # type: ignore[arg-type]
        if source is None or source["status"] == "moved" or (page and page["id"] == source["id"]):
            return page
        self._check(source["url"], CheckOutcome.MOVED, now, 301)
        if page is not None and not self._fresh_this_run(page):
            # Both have their own history: the old page points at the new one.
            self.archive.update_page(source["id"], status="moved", moved_to=item.url)
            self._change(source["id"], item.url, "moved", now, [], source, None,
                         moved_from=source["url"])  # fmt: skip
            outcome.change = "moved"
            return page
        if page is not None:
            self.archive.fold_checks(page["id"], into=source["id"])
            self.archive.discard_page(page["id"])
        self.archive.update_page(source["id"], url=item.url, status="live", moved_to=None)
        self.archive.repoint_duplicates(source["url"], item.url)
        moved = self.archive.page_by_id(source["id"])
        self._change(
            source["id"], item.url, "moved", now, [], moved, None, moved_from=source["url"]
        )
        outcome.change = "moved"
        return moved

    def _fresh_this_run(self, page: dict[str, Any]) -> bool:
        first = self.archive.version(page["id"], 1)
        return page["version_count"] == 1 and first is not None and first["run_id"] == self.run_id

    def _version(
        self, page: dict, record: dict[str, Any], item: PageItem, now: str
    ) -> tuple[int, str]:
        """Store the next version; returns its number and content hash."""
        version = (page.get("version_count") or 0) + 1
        digest = content_hash(record)
        self.archive.add_version(
            {
                "page_id": page["id"],
                "version": version,
                "run_id": self.run_id,
                "url": item.url,
                "fetched_at": now,
                "content_hash": digest,
                **record,
            }
        )
        return version, digest

    def _fingerprints(self, page_id: int, item: PageItem, record: dict[str, Any]) -> dict[str, Any]:
        """Duplicate link (first URL is the original) and simhash near-duplicate."""
        archive = self.archive
        dup = duplicate_hash(record)
        self._release_twins(item.url, dup)
        twins = archive.live_pages_with_dup_hash(dup, page_id)
        duplicate_of = None
        if twins and twins[0]["url"] < item.url:
            duplicate_of = twins[0]["url"]
        else:
            for twin in twins:  # this page is the original now
                archive.update_page(twin["id"], duplicate_of=item.url)
                # A twin first seen in this same run was no news after all: whichever of
                # the two was fetched first, the later URL is the one reported as duplicate.
                archive.retag_new_as_duplicate(twin["id"], self.run_id)
        sh = simhash(record.get("body") or "")
        bands = simhash_bands(sh)
        near = None
        if sh and not duplicate_of:
            for cand in archive.near_duplicate_candidates(bands, item.lang, page_id):
                if cand["simhash"] and hamming(cand["simhash"], sh) <= NEAR_DUPLICATE_DISTANCE:
                    near = cand["url"]
                    break
        return {
            "dup_hash": dup,
            "duplicate_of": duplicate_of,
            "near_duplicate_of": near,
            "simhash": sh,
            "sh0": bands[0],
            "sh1": bands[1],
            "sh2": bands[2],
            "sh3": bands[3],
        }

    def _release_twins(self, url: str, dup_hash: str | None) -> None:
        """Pages that duplicated `url` and no longer do (it changed or left) are originals
        again; among those still equal to each other the first URL stays the original."""
        originals: dict[str, str] = {}
        for twin in self.archive.duplicates_of(url, other_than=dup_hash):
            original = originals.setdefault(twin["dup_hash"], twin["url"])
            self.archive.update_page(
                twin["id"], duplicate_of=None if original == twin["url"] else original
            )

    def _change(
        self,
        page_id: int,
        url: str,
        change: str,
        now: str,
        fields: list[str],
        page: dict | None,
        prev: dict | None,
        version: int | None = None,
        moved_from: str | None = None,
    ) -> None:
        diff, flags = None, []
        if change in VERSIONED_CHANGES and version is not None:
            new = self.archive.version(page_id, version) or {}
            flags = date_flags(prev, new, now)
            if change in ("modified", "restored"):
                diff = unified_diff(prev, new, f"v{prev['version']}" if prev else "", f"v{version}")
        self.archive.add_change(
            {
                "page_id": page_id,
                "run_id": self.run_id,
                "url": url,
                "change": change,
                "fields": fields,
                "detected_at": now,
                "version": version if version is not None else (page or {}).get("current_version"),
                "previous_version": prev["version"] if prev else None,
                "moved_from": moved_from,
                "diff": diff,
                "flags": flags,
            }
        )

    def _remember_lastmod(self, url: str, lastmod: str | None) -> None:
        if lastmod:
            self.archive.set_sitemap_lastmods({url: lastmod})

    # -- unchanged / gone ---------------------------------------------------------------------
    def unchanged(self, item: Unchanged, now: str | None = None) -> Outcome:
        """A 304 or an unmoved sitemap lastmod: only last_seen moves (categories may still)."""
        now = now or utcnow()
        archive = self.archive
        with archive.transaction():
            if item.fetch:
                archive.record_fetch(**item.fetch)
            page = archive.page(item.url)
            if page is None:
                return Outcome(item.url)
            if item.reason == "304":
                self._check(item.url, CheckOutcome.NOT_MODIFIED, now, 304)
            archive.update_page(page["id"], last_seen=now)
            self._remember_lastmod(item.url, item.sitemap_lastmod)
            prev = archive.version(page["id"])
            categories = sorted(set(item.categories or []))
            if categories and prev and categories != sorted(prev["categories"]):
                record = {k: prev[k] for k in VERSION_COLUMNS}
                record["categories"] = categories
                fake = PageItem(url=page["url"], kind=page["kind"], lang=page["lang"])
                version, digest = self._version(page, record, fake, now)
                archive.update_page(
                    page["id"],
                    current_version=version,
                    version_count=page["version_count"] + 1,
                    last_changed=now,
                    content_hash=digest,
                )
                self._change(
                    page["id"], page["url"], "modified", now, ["categories"], page, prev, version
                )
                return Outcome(item.url, "modified", ["categories"])
            return Outcome(item.url)

    def gone(self, item: Gone) -> Outcome:
        """404/410 on a live page: removed. The caller guards against mass disappearance."""
        now = item.fetched_at or utcnow()
        archive = self.archive
        with archive.transaction():
            page = archive.page(item.url)
            if page is None or page["status"] != "live":
                return Outcome(item.url)
            self._check(item.url, CheckOutcome.GONE, now, item.http_status)
            archive.update_page(
                page["id"], status="removed", http_status=item.http_status, last_seen=now
            )
            self._release_twins(page["url"], None)
            prev = archive.version(page["id"])
            self._change(page["id"], page["url"], "removed", now, [], page, prev)
            return Outcome(item.url, "removed")

    def checked(self, url: str, outcome: CheckOutcome, http_status: int | None = None) -> None:
        """A check that changes nothing else: an error, a 404 held back by the mass guard, a
        URL never stored that answered 404 or 301."""
        with self.archive.transaction():
            self._check(url, outcome, utcnow(), http_status)
