"""Which site an archive holds, so that two sites never mix in one archive.

An archive records the site of its first run (table `meta`). A crawl of another site into it is
refused before any request, unless the operator allows it (`--allow-other-site`, config
`allow_other_site`). A site is its origin (scheme, host, port), except that every mirror on
this machine (127.0.0.1, any port: tests, a snapshot server) is one "local mirror", and the demo
is its bundled snapshot, whatever port its server got this time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aaltowatch.core.boundary import DEFAULT_PORTS, origin_of
from aaltowatch.core.errors import OtherSiteError

LOCAL = "local"
SNAPSHOT = "snapshot:"
# The keys of table `meta` a site is recorded under.
SITE_KEY, BASE_URL_KEY = "site", "site_base_url"


@dataclass(frozen=True)
class Site:
    key: str  # what two crawls must share to be of the same site
    base_url: str  # where it was (or is) fetched from, for people

    @classmethod
    def of_url(cls, base_url: str) -> Site:
        from aaltowatch.core.config import Config

        return cls.of(Config(base_url=base_url))

    @classmethod
    def of(cls, config: Any) -> Site:
        """The site a config crawls (`Config.is_local` decides what a local mirror is)."""
        if config.is_local:
            return cls(LOCAL, config.base_url)
        origin = origin_of(config.base_url)
        if origin is None:  # not http(s): config validation refuses it before a crawl
            return cls(config.base_url, config.base_url)
        scheme, host, port = origin
        shown = "" if port == DEFAULT_PORTS[scheme] else f":{port}"
        return cls(f"{scheme}://{host}{shown}", config.base_url)

    @classmethod
    def snapshot(cls, identity: str, base_url: str) -> Site:
        """The demo: its bundled snapshot (`identity`), served on a new port each time."""
        return cls(SNAPSHOT + identity, base_url)

    @classmethod
    def from_meta(cls, meta: dict[str, str]) -> Site | None:
        key = meta.get(SITE_KEY)
        return cls(key, meta.get(BASE_URL_KEY, "")) if key else None

    def meta(self) -> dict[str, str]:
        return {SITE_KEY: self.key, BASE_URL_KEY: self.base_url}

    @property
    def label(self) -> str:
        if self.key == LOCAL:
            return "a local mirror on this machine (127.0.0.1, any port)"
        if self.key.startswith(SNAPSHOT):
            return f"the demo's bundled snapshot ({self.key.removeprefix(SNAPSHOT)})"
        return self.key


def refusal(recorded: Site | None, site: Site, where: str) -> OtherSiteError | None:
    """Why a crawl of `site` must not go into the archive at `where` that holds `recorded`."""
    if recorded is None or recorded.key == site.key:
        return None
    return OtherSiteError(
        f"{where} holds {recorded.label}, first crawled from {recorded.base_url}; refusing to"
        f" crawl {site.label} ({site.base_url}) into it: use another --db, or"
        " --allow-other-site to mix them"
    )


def claim_site(archive: Any, site: Site, *, allow_other: bool = False) -> None:
    """Record `site` as the archive's when it has none yet; refuse another unless allowed.

    Called before a crawl makes any request (crawl, run --once, schedule, demo)."""
    recorded = Site.from_meta(archive.meta())
    if recorded is None:
        archive.set_meta(site.meta())
        return
    problem = refusal(recorded, site, str(archive.path))
    if problem is not None and not allow_other:
        raise problem
