"""HTTP semantics aaltowatch's own servers share (the feed server, the test servers).

One conditional-GET evaluation, as RFC 9110 §13.2.2 orders it: If-None-Match wins, and
If-Modified-Since is looked at only without it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from aaltowatch.core.text import parse_http_date


class RequestHeaders(Protocol):
    """What the evaluation reads of a request's headers: http.server's `Message`, a dict."""

    def get(self, name: str, /) -> str | None: ...


def is_not_modified(
    headers: RequestHeaders, etag: str, last_modified: datetime | str | None
) -> bool:
    """Whether a GET/HEAD with these request headers gets a 304 for a resource with `etag`
    and `last_modified` (an aware datetime or an HTTP date; None = unknown)."""
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        tags = [tag.strip() for tag in if_none_match.split(",")]
        return any(tag == "*" or tag.removeprefix("W/") == etag for tag in tags)
    if_modified_since = headers.get("If-Modified-Since")
    if not if_modified_since or last_modified is None:
        return False
    since = parse_http_date(if_modified_since)
    if isinstance(last_modified, str):
        last_modified = parse_http_date(last_modified)
    return since is not None and last_modified is not None and since >= last_modified
