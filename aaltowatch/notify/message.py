"""Change events -> plain-text messages (title + body) that read well in e-mail and chat.

Pure functions of the change rows and their versions: what changed, the fields, a short diff
(only the changed lines, capped, with `[-removed-]{+added+}` markers) and the link. Text only,
so no HTML reaches a chat service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aaltowatch.core.enums import ChangeKind, change_label
from aaltowatch.core.watchconfig import Watch
from aaltowatch.core.worddiff import DELETED, cut, deleted, inserted, marked_text
from feeds.sanitize import clean_text, safe_url
from feeds.watches import snippet_pieces

DIFF_LINES = 12  # changed lines shown per event
DIFF_LINES_DIGEST = 4
LINE_CHARS = 240
CONTEXT_WORDS = 6  # unchanged words kept on each side of a change in an edited line
APP = "aaltowatch"
# A snippet's match in plain text: visible in any mail client or chat, without markup.
HIGHLIGHT = ("«", "»")


@dataclass(frozen=True)
class Message:
    title: str
    body: str


@dataclass(frozen=True)
class Event:
    """One change row with the title, lead and published date of the version it produced,
    and the snippet its watch matched."""

    change: dict[str, Any]
    title: str
    lead: str | None = None
    published: str | None = None
    snippet: str = ""

    @property
    def label(self) -> str:
        return change_label(self.change["change"])


def _marked_lines(diff: str | None) -> list[str]:
    """The changed lines of a unified diff with visible markers: an edited line (a removed line
    followed by the added line that replaced it) is one line marked word by word, so a changed
    name reads `Contact: [-Sanna-Katri Rautava-]{+Johanna Kivelä+}`; a line only removed or only
    added is marked whole."""
    out: list[str] = []
    removed: list[str] = []
    added: list[str] = []

    def flush() -> None:
        pairs = min(len(removed), len(added))
        out.extend(
            marked_text(a, b, CONTEXT_WORDS, LINE_CHARS)
            for a, b in zip(removed, added, strict=False)
        )
        width = LINE_CHARS - len(DELETED[0] + DELETED[1])
        out.extend(deleted(cut(line, width)) for line in removed[pairs:] if line)
        out.extend(inserted(cut(line, width)) for line in added[pairs:] if line)
        removed.clear()
        added.clear()

    for line in (diff or "").splitlines():
        if line.startswith(("+++", "---")):
            continue
        if line[:1] == "-":
            if added:  # a new hunk of changes starts
                flush()
            removed.append(clean_text(line[1:]))
        elif line[:1] == "+":
            added.append(clean_text(line[1:]))
        else:
            flush()
    flush()
    return out


def short_diff(diff: str | None, max_lines: int = DIFF_LINES) -> list[str]:
    """The changed lines of a unified diff, marked (`[-removed-]{+added+}`), each capped."""
    changed = _marked_lines(diff)
    shown = changed[:max_lines]  # each line is cut to LINE_CHARS with its markers closed
    if len(changed) > max_lines:
        shown.append(f"… and {len(changed) - max_lines} more changed lines")
    return shown


def snippet_text(snippet: str) -> str:
    """A stored snippet with its match between visible markers («Espoo»)."""
    return "".join(
        f"{HIGHLIGHT[0]}{text}{HIGHLIGHT[1]}" if matched else text
        for text, matched in snippet_pieces(snippet)
    ).strip()


def _dates(event: Event) -> str:
    published = (event.published or "")[:10] or "no date on the page"
    return f"Published {published}; detected {event.change['detected_at'][:10]}"


def _event_lines(event: Event, diff_lines: int) -> list[str]:
    change = event.change
    lines = [f"{event.label}: {event.title}"]
    link = safe_url(change["url"])
    if link:
        lines.append(link)
    lines.append(_dates(event))
    if event.snippet:
        lines.append(f"Match: {snippet_text(event.snippet)}")
    if change.get("moved_from"):
        lines.append(f"Moved from {safe_url(change['moved_from']) or change['moved_from']}")
    fields = [clean_text(f) for f in change.get("fields") or [] if isinstance(f, str)]
    if fields:
        lines.append(f"Changed fields: {', '.join(fields)}")
    diff = short_diff(change.get("diff"), diff_lines)
    if diff:
        lines += ["", *diff]
    elif change["change"] == ChangeKind.NEW and event.lead:
        lines += ["", clean_text(event.lead)]
    elif change["change"] == ChangeKind.REMOVED:
        lines.append("The page is no longer on the site.")
    return lines


def _footer(watch: Watch, change_id: int | None = None) -> list[str]:
    event = f" (change {change_id})" if change_id is not None else ""
    return ["", "--", f"{APP} watch {watch.name!r}: {watch.query}{event}"]


def event_message(watch: Watch, event: Event) -> Message:
    """One message for one change event."""
    body = _event_lines(event, DIFF_LINES) + _footer(watch, event.change["id"])
    return Message(f"[{APP}: {watch.name}] {event.label}: {event.title}", "\n".join(body))


def digest_message(watch: Watch, period: str, events: Sequence[Event]) -> Message:
    """One message for every event of a period, oldest first."""
    count = f"{len(events)} change{'s' if len(events) != 1 else ''}"
    body = [f"{count} on {period}", ""]
    for event in events:
        body += [*_event_lines(event, DIFF_LINES_DIGEST), ""]
    body = [*body[:-1], *_footer(watch)]
    return Message(f"[{APP}: {watch.name}] {count} on {period}", "\n".join(body))


def trial_message(watch: Watch, newest: Event | None) -> Message:
    """`watch test NAME --send`: says it is a test, and shows what a real message looks like."""
    body = [
        f"This is a test message of the {APP} watch {watch.name!r}: its notifications reach you."
    ]
    if newest is not None:
        body += ["", "Its newest match, as a message would show it:", "", *_event_lines(newest, 4)]
    else:
        body += ["", "It has no matches yet."]
    return Message(f"[{APP}: {watch.name}] Test message", "\n".join(body + _footer(watch)))
