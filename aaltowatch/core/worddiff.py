"""Word diffs with visible text markers, `[-removed-]{+added+}` as `git diff --word-diff` shows
them: text readers (newsboat, mail clients, chat) drop <del>/<ins> styling, and then old and new
words run together ("Sanna-KatriJohanna"). The feeds keep <del>/<ins> around the markers for
browsers; mail has the markers alone. Pure functions of two strings.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from typing import NamedTuple

DELETED = ("[-", "-]")
INSERTED = ("{+", "+}")
ELLIPSIS = "…"

_TOKENS = re.compile(r"\s+|[^\s]+")


class Segment(NamedTuple):
    """A run of the new text: unchanged (`old == new`) or a change (either side may be "")."""

    old: str
    new: str

    @property
    def equal(self) -> bool:
        return self.old == self.new


def deleted(text: str) -> str:
    return f"{DELETED[0]}{text}{DELETED[1]}" if text else ""


def inserted(text: str) -> str:
    return f"{INSERTED[0]}{text}{INSERTED[1]}" if text else ""


def segments(old: str, new: str) -> list[Segment]:
    """Word-level runs of `old` -> `new`. A space between two changes joins them into one, so a
    replaced name reads `[-Sanna-Katri Rautava-]{+Johanna Kivelä+}`, not word by word."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    out: list[Segment] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        before, after = "".join(a[i1:i2]), "".join(b[j1:j2])
        if tag == "equal":
            out.append(Segment(before, after))
            continue
        gap = out[-1] if len(out) > 1 and out[-1].equal and not out[-1].old.strip() else None
        change = out[-2] if gap else None
        if change and not change.equal and ((change.old and before) or (change.new and after)):
            space = gap.old  # type: ignore[union-attr]
            out[-2:] = [
                Segment(
                    change.old + (space if change.old and before else "") + before,
                    change.new + (space if change.new and after else "") + after,
                )
            ]
        elif out and not out[-1].equal:
            out[-1] = Segment(out[-1].old + before, out[-1].new + after)
        else:
            out.append(Segment(before, after))
    return _spaces_outside(out)


def _spaces_outside(parts: list[Segment]) -> list[Segment]:
    """A pure insertion or deletion keeps its edge spaces outside the markers: `c {+x y+}`."""
    out: list[Segment] = []
    for segment in parts:
        pieces = [segment]
        if not segment.equal and not (segment.old and segment.new):
            text = segment.old or segment.new
            core = text.strip()
            lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
            changed = Segment(core if segment.old else "", core if segment.new else "")
            pieces = [Segment(lead, lead), changed, Segment(trail, trail)]
        for piece in pieces:
            if not (piece.old or piece.new):
                continue
            if out and piece.equal and out[-1].equal:
                out[-1] = Segment(out[-1].old + piece.old, out[-1].new + piece.new)
            else:
                out.append(piece)
    return out


def _trimmed(text: str, context: int, after_change: bool, before_change: bool) -> str:
    """An unchanged run cut to `context` words on each side that touches a change."""
    core = text.strip(" ")
    lead, trail = text[: len(text) - len(text.lstrip(" "))], text[len(text.rstrip(" ")) :]
    words = core.split(" ")
    head = words[:context] if after_change else []
    tail = words[-context:] if before_change else []
    if not (after_change or before_change) or len(words) <= len(head) + len(tail) + 1:
        return text
    return lead + " ".join([*head, ELLIPSIS, *tail]) + trail


def cut(text: str, longest: int | None) -> str:
    """`text` cut to `longest` characters, the last one an ellipsis."""
    if longest is None or len(text) <= longest:
        return text
    return text[: longest - 1] + ELLIPSIS


def marked_text(old: str, new: str, context: int | None = None, width: int | None = None) -> str:
    """`old` -> `new` as one line of text with [-…-]{+…+} markers. With `context`, unchanged runs
    keep that many words next to each change and the rest becomes …. With `width`, the line
    stops at about that many characters with …, never inside a marker: a change that does not
    fit has each side cut."""
    parts = segments(old, new)
    out: list[str] = []
    room = width if width is not None else -1
    for i, segment in enumerate(parts):
        last = i == len(parts) - 1
        if segment.equal:
            after, before = i > 0, not last
            part = segment.new if context is None else _trimmed(segment.new, context, after, before)
        else:
            part = deleted(segment.old) + inserted(segment.new)
        if width is None or len(part) <= room:
            out.append(part)
            room -= len(part)
            continue
        if segment.equal:
            out.append(cut(part, max(room, 1)))
        else:
            side = max(8, (room - len(ELLIPSIS) - 8) // 2)
            out.append(deleted(cut(segment.old, side)) + inserted(cut(segment.new, side)))
            out.append("" if last else ELLIPSIS)
        break
    return "".join(out)
