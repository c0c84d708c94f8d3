"""`aaltowatch demo`: the whole pipeline over the bundled two-day snapshot, on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from aaltowatch.core.config import Config
from aaltowatch.core.site import Site
from aaltowatch.core.urls import SPIDER_NAMES

DEMO_DIR = Path("data/demo")


def run_demo(
    config: Config,
    *,
    explicit_db: bool,
    keep: bool,
    console: Console,
    config_file: Path | None = None,
) -> int:
    from aaltowatch.core.site import claim_site
    from aaltowatch.crawl import CrawlStep, run_steps, spider_names
    from aaltowatch.notify.deliver import register
    from aaltowatch.progress import CrawlProgress
    from aaltowatch.steps import Step, Steps, after_crawl
    from aaltowatch.testing.snapshot_server import SnapshotServer
    from aaltowatch.watches import demo_watches
    from storage import open_archive

    db = config.db if explicit_db else DEMO_DIR / "aaltowatch.db"
    feeds_dir = config.feeds_dir if explicit_db else DEMO_DIR / "feeds"
    if not explicit_db and not keep and DEMO_DIR.exists():
        shutil.rmtree(DEMO_DIR)
    started = time.monotonic()
    # Your own watches (--config) if you have any, else the bundled two (aaltowatch/demo.toml).
    watches = config.watches or demo_watches()
    with SnapshotServer("state-1") as server:
        demo_config = config.replace(
            db=db, feeds_dir=feeds_dir, base_url=server.url, watches=watches
        )
        console.print(
            f"Serving the bundled snapshot (day 1) at {server.url}. Politeness delays"
            " (robots Crawl-delay, download delay, AutoThrottle) are off for this local server;"
            " a crawl of www.aalto.fi keeps them."
        )
        feed_reports: list[Any] = []
        days: list[Steps] = []

        def build(label: str) -> Any:
            def after(summaries: list[Any]) -> None:
                """The run's steps after each day's crawl (metrics are for real runs only)."""
                steps = Steps.crawled(demo_config, summaries)
                with open_archive(db) as archive:
                    after_crawl(steps, archive, skip=(Step.METRICS,))
                days.append(steps)
                if steps.feeds_report is not None:
                    feed_reports.append((label, steps.feeds_report))

            return after

        def switch() -> None:
            server.set_state("state-2")
            console.print("Day 2: the snapshot server now serves state 2.")

        steps = [
            CrawlStep(demo_config, spider_names("all"), after=build("day 1")),
            CrawlStep(demo_config, spider_names("all"), before=switch, after=build("day 2")),
        ]
        with open_archive(db) as archive:
            # The demo's archive holds the snapshot and nothing else (another --db may not).
            claim_site(archive, snapshot_site(server.url), allow_other=config.allow_other_site)
        with open_archive(db) as archive, CrawlProgress(console) as progress:
            register(archive, watches)
            summaries = run_steps(steps, archive, progress)
    elapsed = time.monotonic() - started
    with open_archive(db, readonly=True) as archive:
        _print_summary(console, archive, summaries, feed_reports, db, feeds_dir, elapsed)
        _print_watches(console, archive, watches, feeds_dir, bundled=not config.watches)
    # The commands see the demo's watches only with its config file.
    watch_config = config_file if config.watches else bundled_config()
    console.print(escape(next_steps(db, feeds_dir, watch_config)))
    # The crawls' verdict, and 1 if a step of either day failed (aaltowatch.steps).
    return Steps(config, summaries, [r for day in days for r in day.results]).exit_code()


def _print_watches(
    console: Console, archive: Any, watches: Any, feeds_dir: Path, bundled: bool
) -> None:
    from aaltowatch.watches import feed_name

    for watch in watches:
        console.print(
            f"watch {escape(watch.name)} ({escape(watch.query)}):"
            f" {archive.watches.count_changes(watch)} matching changes"
            f" -> {escape(str(feeds_dir / feed_name(watch)))}.xml / .atom"
        )
    if bundled:  # the commands see these watches only with the demo's config file
        path = bundled_config()
        console.print(
            f"The demo's watches are in {escape(str(path))}"
            f" (`aaltowatch --config {escape(str(path))} watches`); declare your own as"
            f" {escape('[[aaltowatch.watch]]')} tables in your config file."
        )


def _print_summary(
    console: Console,
    archive: Any,
    summaries: list[Any],
    feed_reports: list[Any],
    db: Path,
    feeds_dir: Path,
    elapsed: float,
) -> None:
    from aaltowatch.figures import figures_table

    rows = [
        ([f"day {index // len(SPIDER_NAMES) + 1}", s.spider], s)
        for index, s in enumerate(summaries)
    ]
    table = figures_table("aaltowatch demo: two days of aalto.fi", ("day", "spider"), rows)
    console.print(table)
    totals = archive.queries.totals()
    console.print(f"pages: {totals['pages']}   versions: {totals['versions']}")
    console.print("changes: " + ", ".join(f"{c} {n}" for c, n in totals["changes"].items()))
    day2_runs = [s.run_id for s in summaries[len(SPIDER_NAMES) :]]  # each day runs every spider
    if day2_runs:
        day2 = Table(title="What changed on day 2", title_justify="left", expand=True)
        day2.add_column("change", no_wrap=True)
        day2.add_column("page (https://www.aalto.fi…)", overflow="fold", ratio=3)
        day2.add_column("fields", overflow="fold", ratio=1)
        for run_id in day2_runs:
            for row in archive.queries.changes(run_id=run_id):
                path = row["url"].removeprefix("https://www.aalto.fi")
                if row["moved_from"]:
                    path += " (was " + row["moved_from"].removeprefix("https://www.aalto.fi") + ")"
                day2.add_row(row["change"], escape(path), ", ".join(row["fields"]))
        console.print(day2)
    for label, report in feed_reports:
        console.print(
            f"feeds after {label}: {len(report.written)} written, {len(report.unchanged)} unchanged"
        )
    names = ", ".join(p["name"] for p in archive.partners.all())
    console.print(f"partners: {escape(names) or 'none'}  (`aaltowatch --db {db} partners`)")
    console.print(f"database: {db.resolve()}")
    console.print(
        f"feeds:    {feeds_dir.resolve()}"
        f"  (open index.html and dashboard.html, or `aaltowatch --feeds-dir {feeds_dir} serve`)"
    )
    console.print(f"done in {elapsed:.1f}s")
    for s in summaries:
        for alert in s.alerts:
            console.print(f"[red]ALERT[/red] {alert.check}: {alert.message}")


def bundled_config() -> Path:
    """The demo's own config file (its watches), as installed."""
    from aaltowatch.watches import DEMO_CONFIG

    return Path(str(resources.files("aaltowatch") / DEMO_CONFIG))


def snapshot_site(url: str) -> Site:
    """The demo as a site: its bundled snapshot (by the digest of its manifest), not the port
    its server got this time."""
    from aaltowatch.testing.snapshot_server import snapshot_root

    manifest = (snapshot_root() / "manifest.json").read_bytes()
    return Site.snapshot(hashlib.sha256(manifest).hexdigest()[:12], url)


def next_steps(db: Path, feeds_dir: Path, config_file: Path | None = None) -> str:
    """The commands to go on with, exactly as they run from here: the demo's archive is not
    where the commands look by default (that is the real archive, see the README)."""
    prog = _program()
    on_db = f"{prog} --db {shlex.quote(str(db))}"
    lines = [
        "Next, on the demo's archive (from this directory):",
        f"  {on_db} status",
        f"  {on_db} changes --change modified   # what day 2 changed",
        f"  {on_db} search Aalto",
        f"  {prog} --feeds-dir {shlex.quote(str(feeds_dir))} serve   # the feeds over HTTP",
        f"  {on_db} browse   # the archive in Datasette",
        "or point every command at it (its watches included):",
        f"  export AALTOWATCH_DB={shlex.quote(str(db))}"
        f" AALTOWATCH_FEEDS_DIR={shlex.quote(str(feeds_dir))}"
        + (f" AALTOWATCH_CONFIG={shlex.quote(str(config_file))}" if config_file else ""),
    ]
    return "\n".join(lines)


def _program() -> str:
    """How to run aaltowatch from here: by name when it is on PATH, else the venv's script."""
    script = Path(sys.executable).with_name("aaltowatch")
    found = shutil.which("aaltowatch")
    if found and script.exists() and Path(found).resolve() == script.resolve():
        return "aaltowatch"
    if script.exists():
        relative = os.path.relpath(script)
        return shlex.quote(relative if not relative.startswith("..") else str(script))
    return f"{shlex.quote(sys.executable)} -m aaltowatch.cli"
