"""Declared vs observed dates: what a new version says about the page's own Published/Updated.

The site declares `published` and `updated`; the archive knows when it saw each version. A pure
function compares the two versions around a change and names the disagreements:

- `silent_edit`: an editor changed the page (title, lead, body, contacts, images) but the
  declared `updated` did not move forward.
- `backdated`: the declared `published` moved earlier than the previous version's.
- `forward_dated`: the declared `published` (new, or just changed) lies in the future of the
  moment the version was observed.
- `implausible_date`: a declared date (new, or just changed) lies outside the window of
  `core.fields.plausible` (before 1990, or days after the observation, year 1 or 9999): kept as
  declared, but feeds and charts date the page by its observation instead.

Noise never counts: categories come from listing teasers and translations from the language
links, so neither is an edit of the page; a page that declares no `updated` cannot be silent
about it; and a shift of a declared time within `TOLERANCE` (the widest time-zone offset,
i.e. a local time read as UTC) is a reading difference, not dating.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any

from aaltowatch.core.fields import Shape, plausible
from aaltowatch.core.text import parse_utc
from pages.fields import EDITED_FIELDS, FIELDS
from pipeline.classify import changed_fields


class DateFlag(StrEnum):
    SILENT_EDIT = "silent_edit"
    BACKDATED = "backdated"
    FORWARD_DATED = "forward_dated"
    IMPLAUSIBLE = "implausible_date"


TOLERANCE = timedelta(hours=14)
DATE_FIELDS = tuple(f.name for f in FIELDS if f.shape is Shape.DATE)


def date_flags(
    previous: dict[str, Any] | None, new: dict[str, Any], observed_at: str | None
) -> list[DateFlag]:
    """Flags for the change from `previous` (None for a new page) to `new`, in enum order."""
    flags: set[DateFlag] = set()
    published = parse_utc(new.get("published"))
    if previous is not None:
        edited = EDITED_FIELDS.intersection(changed_fields(previous, new))
        was_updated, updated = parse_utc(previous.get("updated")), parse_utc(new.get("updated"))
        if edited and was_updated and updated and updated <= was_updated:
            flags.add(DateFlag.SILENT_EDIT)
        was_published = parse_utc(previous.get("published"))
        if was_published and published and was_published - published > TOLERANCE:
            flags.add(DateFlag.BACKDATED)
        fresh_date = published != was_published
    else:
        fresh_date = True
    observed = parse_utc(observed_at)
    if fresh_date and published and observed and published - observed > TOLERANCE:
        flags.add(DateFlag.FORWARD_DATED)
    for name in DATE_FIELDS:
        value = new.get(name)
        fresh = previous is None or value != previous.get(name)
        if parse_utc(value) and fresh and not plausible(value, observed_at):
            flags.add(DateFlag.IMPLAUSIBLE)
    return [flag for flag in DateFlag if flag in flags]
