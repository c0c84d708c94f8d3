"""Refresh the partner registry after a run: stored pages + hub HTML -> rules -> registry.

Everything it reads is already in the archive (current versions, the hubs' raw HTML), so a
refresh needs no network and gives the same registry for the same archive.
"""

from __future__ import annotations

import logging
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from aaltowatch.core.config import Config
from aaltowatch.core.enums import PageStatus
from aaltowatch.core.errors import ExtractionError
from aaltowatch.core.urls import HUB_PATHS, LANGS, PUBLIC_HOST
from pages.hub import hub_links
from pipeline.partners import Partner, build_partners
from storage import Archive

log = logging.getLogger(__name__)

HUB_URLS = frozenset(f"https://{PUBLIC_HOST}{path}" for path in HUB_PATHS.values())


def refresh_partners(archive: Archive, config: Config) -> list[Partner]:
    """Rebuild the registry from the archive (one transaction); returns the partners."""
    pages = archive.partners.pages()
    hub_texts: dict[str, list[str]] = {}
    for page in pages:
        if page["url"] not in HUB_URLS or not page["raw_sha256"]:
            continue
        raw = archive.fetches.raw_body(page["raw_sha256"])
        try:
            links = hub_links(raw or b"", page["url"], page["content_type"])
        except ExtractionError as exc:
            log.warning("partners: hub %s not readable: %s", page["url"], exc)
            continue
        for url, texts in links.items():
            hub_texts.setdefault(url, []).extend(t for t in texts if t not in hub_texts[url])
    partners = build_partners(pages, hub_texts, set(HUB_URLS), config.partner)
    archive.partners.replace(partners)
    log.info("partners: %d in the registry", len(partners))
    return partners


def print_partners(rows: list[dict[str, Any]], console: Console) -> None:
    """The registry as a table: one partner per row, its languages and news mentions."""
    table = Table(title="Partners", title_justify="left")
    table.add_column("partner", min_width=12, overflow="fold")
    for col in ("status", "first seen (UTC)", "last seen (UTC)", *LANGS, "mentions"):
        table.add_column(col, no_wrap=True)
    for row in rows:
        langs = {p["lang"] for p in row["pages"] if p["status"] == PageStatus.LIVE}
        table.add_row(
            escape(row["name"]),
            row["status"],
            row["first_seen"][:16].replace("T", " "),
            row["last_seen"][:16].replace("T", " "),
            *("✓" if lang in langs else "" for lang in LANGS),
            str(row["mentions"]),
        )
    console.print(table)
    if not rows:
        console.print("no partners yet: crawl the partnership pages first")
