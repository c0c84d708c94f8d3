"""A crawl as the command line runs it: with live progress, then a table of its runs.

Shared by `crawl` and `run --once` (aaltowatch.runonce).
"""

from __future__ import annotations

from typing import Any

from aaltowatch.core.config import Config


def print_summaries(summaries: list[Any], console: Any) -> None:
    """One row per run, then its alerts."""
    from aaltowatch.figures import figures_table

    rows = [([s.spider, str(s.run_id)], s) for s in summaries]
    table = figures_table("Crawl", ("spider", "run"), rows)
    console.print(table)
    for s in summaries:
        for alert in s.alerts:
            console.print(f"[red]ALERT[/red] {alert.check}: {alert.message}")


def crawl_archive(config: Config, spider: str, progress_console: Any | None = None) -> list[Any]:
    """One crawl into the archive; live progress on `progress_console` when given."""
    from aaltowatch.core.site import Site, claim_site
    from aaltowatch.crawl import CrawlStep, run_steps, spider_names
    from aaltowatch.progress import CrawlProgress
    from storage import open_archive

    with open_archive(config.db) as archive:
        claim_site(archive, Site.of(config), allow_other=config.allow_other_site)
        step = CrawlStep(config, spider_names(spider))
        if progress_console is not None:
            with CrawlProgress(progress_console) as progress:
                return run_steps([step], archive, progress)
        return run_steps([step], archive)
