"""After a run: send every change event a watch matches to each of its targets, once.

Each (watch, target) pair is a subscription with its own ledger in the archive
(storage.notifications): claim, send through Apprise, mark sent. A failed send releases its
claim, so the event is sent by a later run (the backlog, oldest first); the target is skipped
for the rest of this run, and the other targets carry on. Nothing here ever raises into the
crawl: a broken target is a counted failure and, after `notify_alert_after` failed runs in a
row, a health alert.

Digest targets (`digest = "daily"`) get one message per UTC day, sent by the first run after
that day is over.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

from aaltowatch.core.config import Config
from aaltowatch.core.watchconfig import Watch, load_target, target_label
from aaltowatch.notify.message import Event, Message, digest_message, event_message, trial_message
from aaltowatch.watches import match_watches
from feeds.sanitize import clean_text
from storage import Archive

log = logging.getLogger(__name__)

ALERT_CHECK = "notification_failures"
EVENT = "event"
QUIET_LOGGERS = ("apprise", "urllib3")


@dataclass
class DeliveryReport:
    """What one delivery pass did, per target label (aaltowatch.core.targets: no secret)."""

    sent: dict[str, int] = field(default_factory=dict)  # events delivered
    messages: int = 0
    failed: list[str] = field(default_factory=list)
    unknown: int = 0  # claims a crash left behind, now never re-sent
    alerts: list[str] = field(default_factory=list)


def register(archive: Archive, watches: Sequence[Watch]) -> None:
    """Record every watch and target before a crawl, so the crawl's own events are news to
    new ones (the events before are history: matched, never sent)."""
    archive.watches.register(watches)
    for watch in watches:
        for url in watch.notify:
            archive.notifications.register_target(watch.name, target_label(url))


@dataclass(frozen=True)
class Limits:
    """How hard delivery may push: the `notify_*` settings."""

    alert_after: int
    max_per_run: int
    interval_s: float | None

    @classmethod
    def from_config(cls, config: Config) -> Limits:
        return cls(config.notify_alert_after, config.notify_max_per_run, config.notify_interval_s)


def deliver(
    archive: Archive,
    watches: Sequence[Watch],
    *,
    limits: Limits | None = None,
    run_id: int | None = None,
    now: datetime | None = None,
) -> DeliveryReport:
    """Send what is pending to every target. Call with the run lock held."""
    limits = limits or Limits.from_config(Config())
    # Apprise's and urllib3's debug lines print request URLs, and some services keep their
    # token in the path; their warnings name the host only. Keep those even under -v.
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    report = DeliveryReport()
    match_watches(archive, watches)  # events recorded since the feeds were built
    report.unknown = archive.notifications.resolve_stale_claims()
    if report.unknown:
        log.warning(
            "%d notification(s) were interrupted by a crash between sending and recording;"
            " they are not sent again (see `aaltowatch status`)",
            report.unknown,
        )
    today = (now or datetime.now(UTC)).strftime("%Y-%m-%d")
    for watch in watches:
        for url in watch.notify:
            try:
                _deliver_target(archive, watch, url, today, limits, run_id, report)
            except Exception as exc:  # one broken target never blocks the others
                log.error("watch %s: notifications failed: %s", watch.name, type(exc).__name__)
                report.failed.append(f"{watch.name}: {type(exc).__name__}")
    return report


def last_run(summaries: Sequence[Any]) -> int | None:
    """The run a notification alert is filed under: the newest of the crawl's runs."""
    return max((s.run_id for s in summaries if s.run_id is not None), default=None)


def after_run(config: Config, archive: Archive, run_id: int | None) -> DeliveryReport | None:
    """The notify step of a run (aaltowatch.steps): a broken target is a counted failure; an
    error of delivery itself is raised, so the step fails (events are kept for the next run)."""
    watches = [w for w in config.watches if w.notify]
    if not watches:
        return None
    report = deliver(archive, watches, limits=Limits.from_config(config), run_id=run_id)
    log.info(
        "notifications: %d message(s), %d event(s) sent, %d target(s) failed",
        report.messages,
        sum(report.sent.values()),
        len(report.failed),
    )
    return report


def _batches(watch: Watch, events: list[Event], today: str) -> Iterable[tuple[str, list[Event]]]:
    """(message label, events) in send order: one per event, or one per closed day."""
    if not watch.digest:
        for event in events:
            yield EVENT, [event]
        return
    for day, group in groupby(events, key=lambda e: e.change["detected_at"][:10]):
        if day < today:  # the day is over: its digest is complete
            yield f"digest {day}", list(group)


def _deliver_target(
    archive: Archive,
    watch: Watch,
    url: str,
    today: str,
    limits: Limits,
    run_id: int | None,
    report: DeliveryReport,
) -> None:
    label = target_label(url)
    target = archive.notifications.register_target(watch.name, label)
    rows = archive.watches.changes(
        watch,
        after=target["since_change"],
        unsent_for=target["id"],
        pushed_only=True,
        oldest_first=True,
    )
    if not rows:
        return
    service = load_target(url)
    if limits.interval_s is not None:
        for plugin in service:
            plugin.request_rate_per_sec = limits.interval_s  # Apprise's per-service throttle
    events = [_event(archive, row) for row in rows]
    done = 0
    batches = list(_batches(watch, events, today))
    if len(batches) > limits.max_per_run:
        log.info(
            "watch %s: %d messages pending for %s; sending %d now, the rest in later runs",
            watch.name,
            len(batches),
            label,
            limits.max_per_run,
        )
    for name, batch in batches[: limits.max_per_run]:
        ids = [e.change["id"] for e in batch]
        message = (
            event_message(watch, batch[0])
            if name == EVENT
            else digest_message(watch, name.removeprefix("digest "), batch)
        )
        archive.notifications.claim(target["id"], ids, name)
        if _send(service, message, label):
            archive.notifications.mark_sent(target["id"], ids)
            done += len(ids)
            report.sent[label] = report.sent.get(label, 0) + len(ids)
            report.messages += 1
            continue
        failures = archive.notifications.release(target["id"], ids)
        report.failed.append(label)
        log.warning(
            "watch %s: delivery to %s failed (%d in a row); %d event(s) kept for the next run",
            watch.name,
            label,
            failures,
            len(events) - done,
        )
        if failures == limits.alert_after:
            text = (
                f"watch {watch.name}: {failures} deliveries in a row to {label} failed;"
                " its events are kept and sent when it answers again"
            )
            archive.runs.add_alert(run_id, ALERT_CHECK, text, severity="warning")
            report.alerts.append(text)
        return  # this target is down: the rest waits, in order, for the next run


def _send(service: Any, message: Message, label: str) -> bool:
    """True when Apprise reports the message delivered; never raises, never logs the URL."""
    import apprise

    try:
        return bool(
            service.notify(
                title=message.title, body=message.body, body_format=apprise.NotifyFormat.TEXT
            )
        )
    except Exception as exc:  # a plugin bug must not take the run down
        log.warning("notification to %s raised %s", label, type(exc).__name__)
        return False


def _event(archive: Archive, change: dict[str, Any]) -> Event:
    version = archive.pages.version(change["page_id"], change.get("version")) or {}
    if not version and change.get("previous_version"):  # removed: the page as it was
        version = archive.pages.version(change["page_id"], change["previous_version"]) or {}
    return Event(
        change,
        clean_text(version.get("title")) or change["url"],
        version.get("lead"),
        published=version.get("published"),
        snippet=change.get("snippet") or "",
    )


def send_test(archive: Archive, watch: Watch) -> list[tuple[str, bool]]:
    """One message marked as a test to each target of the watch, showing its newest match (if
    any): (target label, delivered) per target. Nothing is recorded in the ledger."""
    logging.getLogger("apprise").setLevel(logging.WARNING)
    newest = archive.watches.changes(watch, limit=1)
    message = trial_message(watch, _event(archive, newest[0]) if newest else None)
    results = []
    for url in watch.notify:
        label = target_label(url)
        service = load_target(url)
        results.append((label, service is not None and _send(service, message, label)))
    return results
