"""Readable HTML diffs between two versions of a page, for the changes feeds and index page.

Paragraphs are aligned first, then words inside changed paragraphs, so an edited sentence shows
as a few <del>/<ins> words rather than a whole rewritten body. Inside <del>/<ins> the text carries
visible markers, `<del>[-old-]</del><ins>{+new+}</ins>` (aaltowatch.core.worddiff): feed readers
such as newsboat drop the styling, and old and new words would run together. Inputs are plain
text; output is built from escaped text only.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from html import escape
from typing import Any

from aaltowatch.core import worddiff
from aaltowatch.core.worddiff import deleted, inserted, segments
from feeds.sanitize import clean_text
from pages.fields import BY_NAME, DIFF_FIELDS

_ELLIPSIS = "<p>…</p>"


def field_text(name: str, value: Any) -> str:
    """A field as plain text with one paragraph per item (lists diff item by item; a record
    by its shown keys, the field's `keys`, else all of them in their order)."""
    if value is None:
        return ""
    keys = BY_NAME[name].keys if name in BY_NAME else None
    if isinstance(value, list):
        return "\n\n".join(
            " – ".join(str(v) for k, v in item.items() if v and (keys is None or k in keys))
            if isinstance(item, dict)
            else str(item)
            for item in value
        )
    return str(value)


def _paragraphs(text: str) -> list[str]:
    return [clean_text(p) for p in re.split(r"\n\s*\n", text or "") if clean_text(p)]


def _del(text: str) -> str:
    return f"<del>{escape(deleted(text))}</del>" if text else ""


def _ins(text: str) -> str:
    return f"<ins>{escape(inserted(text))}</ins>" if text else ""


def _words(old: str, new: str) -> str:
    return "".join(
        escape(s.new) if s.equal else _del(s.old) + _ins(s.new) for s in segments(old, new)
    )


def _whole(paragraphs: Sequence[str], mark: Callable[[str], str]) -> list[str]:
    return [f"<p>{mark(p)}</p>" for p in paragraphs]


def text_diff_html(old: str, new: str) -> str:
    """Changed paragraphs of `old` -> `new` with marked <del>/<ins>; unchanged runs collapse
    to …."""
    a, b = _paragraphs(old), _paragraphs(new)
    out: list[str] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append(_ELLIPSIS)
        elif tag == "delete":
            out += _whole(a[i1:i2], _del)
        elif tag == "insert":
            out += _whole(b[j1:j2], _ins)
        else:
            pairs = min(i2 - i1, j2 - j1)
            out += [f"<p>{_words(a[i1 + k], b[j1 + k])}</p>" for k in range(pairs)]
            out += _whole(a[i1 + pairs : i2], _del) + _whole(b[j1 + pairs : j2], _ins)
    return "\n".join(out)


def _renderer() -> str:
    """What a rendered diff depends on besides its two texts: this module and the markers'."""
    sources = (inspect.getsource(sys.modules[__name__]), inspect.getsource(worddiff))
    return hashlib.sha256("\0".join(sources).encode()).hexdigest()[:16]


@dataclass
class DiffMemo:
    """Rendered text diffs by their inputs. A change's diff is the same in every build, so
    builds that keep the memo (storage.rendered) render only their new events' diffs: a
    run's cost follows what is new, not how many edits its feeds show."""

    known: dict[str, str] = field(default_factory=dict)
    used: dict[str, str] = field(default_factory=dict)  # what this build showed, to keep

    def render(self, old: str, new: str) -> str:
        key = hashlib.sha256(f"{RENDERER}\0{old}\0{new}".encode()).hexdigest()
        html = self.known.get(key)
        if html is None:
            html = text_diff_html(old, new)
        self.used[key] = html
        return html


def version_diff_html(
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    fields: Sequence[str],
    memo: DiffMemo | None = None,
) -> str:
    """One headed section per changed field that has a text form."""
    sections = []
    for name in DIFF_FIELDS:
        if name not in fields:
            continue
        before = field_text(name, (old or {}).get(name))
        after = field_text(name, (new or {}).get(name))
        if before == after:
            continue
        body = memo.render(before, after) if memo is not None else text_diff_html(before, after)
        sections.append(f"<h4>{escape(name.capitalize())}</h4>\n{body}")
    return "\n".join(sections)


RENDERER = _renderer()
