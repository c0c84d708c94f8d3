"""The crawler's trust boundary: the only origins (scheme, host, port) it may ever request.

Declared once, here. The downloader middleware (spiders/boundary.py) checks every request
against it, including redirects, robots.txt, sitemap children and pager links, and the page
objects trust a rel=canonical only when it points inside it. `allowed_hosts` never come from
what the site says: a hostile page cannot widen the boundary.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aaltowatch.core.urls import SITE_HOSTS

SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


def origin_of(url: str) -> Origin | None:
    """(scheme, host, port) of an absolute http(s) URL; None for anything else or a bad port."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in SCHEMES or not host:
        return None
    return scheme, host, port or DEFAULT_PORTS[scheme]


def _host_port(entry: str) -> tuple[str, int | None]:
    """`host` or `host:port` of an allowed_hosts entry (a URL is accepted too)."""
    text = entry.strip()
    parts = urlsplit(text if "://" in text else f"//{text}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"allowed_hosts: {entry!r} has a bad port") from exc
    if not parts.hostname:
        raise ValueError(f"allowed_hosts: {entry!r} is not a host or host:port")
    return parts.hostname.lower(), port


@dataclass(frozen=True)
class Boundary:
    """The set of origins the crawler may request; everything else is refused."""

    origins: frozenset[Origin]

    @classmethod
    def for_site(cls, base_url: str, allowed_hosts: Iterable[str] = ()) -> Boundary:
        """The public site (www.aalto.fi, aalto.fi; http and https on their default ports),
        the configured base_url exactly (scheme, host and port), and each extra mirror of
        `allowed_hosts` (`host` = default ports, `host:port` = that port, both schemes)."""
        origins = {(s, h, DEFAULT_PORTS[s]) for s in SCHEMES for h in SITE_HOSTS}
        base = origin_of(base_url)
        if base is not None:
            origins.add(base)
        for entry in allowed_hosts:
            host, port = _host_port(entry)
            origins.update((s, host, port or DEFAULT_PORTS[s]) for s in SCHEMES)
        return cls(frozenset(origins))

    @classmethod
    def from_config(cls, config: object) -> Boundary:
        return cls.for_site(
            getattr(config, "base_url", ""), getattr(config, "allowed_hosts", ()) or ()
        )

    def allows(self, url: str) -> bool:
        """True only for an http(s) URL on one of the boundary's origins."""
        origin = origin_of(url)
        return origin is not None and origin in self.origins
