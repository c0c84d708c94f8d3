"""The `aaltowatch` command line (docs/DESIGN.md §7): exit 0 ok, 1 failed, 2 usage, 3 unhealthy."""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from aaltowatch import __version__
from aaltowatch.core.config import Config, load_config
from aaltowatch.core.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNHEALTHY,
    EXIT_USAGE,
    AaltowatchError,
)
from aaltowatch.core.urls import KINDS, LANGS, SPIDER_NAMES
from aaltowatch.output import make_console

console = make_console()
err_console = make_console(stderr=True)


def _config(ctx: click.Context) -> Config:
    return ctx.obj["config"]


def _archive(ctx: click.Context, *, readonly: bool = False) -> Any:
    from storage import open_archive

    return open_archive(_config(ctx).db, readonly=readonly)


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db", type=click.Path(path_type=Path), envvar="AALTOWATCH_DB", help="SQLite archive."
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    envvar="AALTOWATCH_CONFIG",
    help="TOML config file.",
)
@click.option("--base-url", envvar="AALTOWATCH_BASE_URL", help="Where to fetch the site from.")
@click.option(
    "--feeds-dir",
    type=click.Path(path_type=Path),
    envvar="AALTOWATCH_FEEDS_DIR",
    help="Where feeds are written.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
@click.version_option(__version__, prog_name="aaltowatch")
@click.pass_context
def cli(
    ctx: click.Context,
    db: Path | None,
    config_file: Path | None,
    base_url: str | None,
    feeds_dir: Path | None,
    verbose: bool,
) -> None:
    """Watch www.aalto.fi news and partnership pages: archive, detect changes, publish feeds."""
    overrides = {"db": db, "base_url": base_url, "feeds_dir": feeds_dir}
    if verbose:
        overrides["log_level"] = "DEBUG"
    config = load_config(config_file, overrides)
    _setup_logging(config.log_level if verbose else "WARNING")
    ctx.obj = {"config": config, "config_file": config_file}


@cli.command()
@click.option(
    "--spider", type=click.Choice([*SPIDER_NAMES, "all"]), default="all", show_default=True
)
@click.option("--no-progress", is_flag=True, help="No live progress display.")
@click.pass_context
def crawl(ctx: click.Context, spider: str, no_progress: bool) -> None:
    """One crawl into the archive, progress shown."""
    from aaltowatch.core.errors import exit_code_for
    from aaltowatch.crawlcmd import crawl_archive, print_summaries
    from aaltowatch.lock import run_lock

    config = _config(ctx)
    with run_lock(config.effective_lock_file):  # never two writers crawling one archive
        summaries = crawl_archive(config, spider, err_console if not no_progress else None)
    print_summaries(summaries, err_console)
    ctx.exit(exit_code_for(s.status for s in summaries))


@cli.command()
@click.pass_context
def feeds(ctx: click.Context) -> None:
    """(Re)build all feeds."""
    from aaltowatch.publish import publish_feeds

    config = _config(ctx)
    with _archive(ctx, readonly=True) as archive:
        report = publish_feeds(archive, config)
    err_console.print(
        f"feeds in {config.feeds_dir}: {len(report.written)} written,"
        f" {len(report.unchanged)} unchanged"
    )


@cli.command("run")
@click.option("--once", is_flag=True, required=True, help="One crawl + feeds + health checks.")
@click.option("--spider", type=click.Choice([*SPIDER_NAMES, "all"]), default="all")
@click.pass_context
def run_cmd(ctx: click.Context, once: bool, spider: str) -> None:
    """Crawl + feeds + health checks: the cron entry point."""
    from aaltowatch.runonce import run_once

    ctx.exit(run_once(_config(ctx), spider, console=err_console))


@cli.command()
@click.pass_context
def schedule(ctx: click.Context) -> None:
    """Long-running APScheduler loop (jobs from the config file)."""
    import scheduler

    ctx.exit(scheduler.run_forever(_config(ctx), ctx.obj.get("config_file")))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@click.option("--limit", default=10, show_default=True)
@click.pass_context
def status(ctx: click.Context, as_json: bool, limit: int) -> None:
    """Last runs, counts and health."""
    from aaltowatch.status import print_status, status_report

    with _archive(ctx, readonly=True) as archive:
        config = _config(ctx)
        report = status_report(
            archive,
            limit=limit,
            lock_path=config.effective_lock_file,
            revisit_max_days=config.revisit_max_days,
        )
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_status(report, console)
    ctx.exit(EXIT_OK if report["healthy"] else EXIT_UNHEALTHY)


@cli.command()
@click.option("--since", help="ISO 8601 time; only changes detected since then.")
@click.option("--kind", type=click.Choice(KINDS))
@click.option("--lang", type=click.Choice(LANGS))
@click.option(
    "--change",
    "change_type",
    type=click.Choice(["new", "modified", "removed", "restored", "moved", "duplicate"]),
)
@click.option("--run", "run_id", type=int, help="Only changes of this run.")
@click.option("--limit", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def changes(
    ctx: click.Context,
    since: str | None,
    kind: str | None,
    lang: str | None,
    change_type: str | None,
    run_id: int | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Change events, newest first."""
    from aaltowatch.core.text import iso_utc
    from storage.export import change_record

    if since and not iso_utc(since):
        raise click.BadParameter(f"{since!r} is not an ISO 8601 time", param_hint="--since")
    with _archive(ctx, readonly=True) as archive:
        if run_id is not None and archive.run(run_id) is None:
            raise click.BadParameter(
                f"there is no run {run_id} in {archive.path}", param_hint="--run"
            )
        rows = archive.changes(
            since=iso_utc(since),
            kind=kind,
            lang=lang,
            change=change_type,
            run_id=run_id,
            limit=limit,
        )
    records = [change_record(r) for r in rows]
    if as_json:
        click.echo(json.dumps(records, indent=2, ensure_ascii=False))
        return
    for r in records:
        fields = f" [{', '.join(r['fields'])}]" if r["fields"] else ""
        moved = f" (from {r['moved_from']})" if r["moved_from"] else ""
        click.echo(f"{r['detected_at']}  {r['change']:<9} {r['url']}{moved}{fields}")


@cli.command()
@click.argument("url")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def history(ctx: click.Context, url: str, as_json: bool) -> None:
    """Versions and changes of one page."""
    from aaltowatch.history import page_history

    with _archive(ctx, readonly=True) as archive:
        record = page_history(archive, url, _config(ctx).base_url)
    if as_json:
        click.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    page = record["page"]
    click.echo(f"{page['url']}  ({page['kind']}, {page['lang']}, {page['status']})")
    click.echo(f"first seen {page['first_seen']}, last seen {page['last_seen']}")
    for v in record["versions"]:
        click.echo(f"  v{v['version']}  {v['fetched_at']}  {v['title']}")
    for c in record["changes"]:
        fields = f" [{', '.join(c['fields'])}]" if c["fields"] else ""
        click.echo(f"  {c['detected_at']}  {c['change']}{fields}")
    checks = record["checks"]
    click.echo(
        f"last verified {checks['last_verified'] or '-'}; {checks['count']} checks,"
        f" {checks['changed']} found a change"
    )
    for c in checks["recent"]:
        click.echo(f"  {c['checked_at']}  {c['outcome']} ({c['http_status'] or '-'})")


@cli.command()
@click.argument("url")
@click.option("--from", "from_version", type=int, help="Older version (default: previous).")
@click.option("--to", "to_version", type=int, help="Newer version (default: current).")
@click.pass_context
def diff(ctx: click.Context, url: str, from_version: int | None, to_version: int | None) -> None:
    """Text diff between two versions of a page."""
    from aaltowatch.history import version_diff

    with _archive(ctx, readonly=True) as archive:
        text = version_diff(archive, url, from_version, to_version, _config(ctx).base_url)
    click.echo(text or "(no differences)")


@cli.command()
@click.argument("query")
@click.option("--lang", type=click.Choice(LANGS))
@click.option("--kind", type=click.Choice(KINDS))
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def search(
    ctx: click.Context, query: str, lang: str | None, kind: str | None, limit: int, as_json: bool
) -> None:
    """Full-text search over the current text of live pages, best matches first.

    QUERY is words (all must occur), "exact phrases", prefix* and AND / OR / NOT.
    """
    from rich.text import Text

    from storage.search import MARK
    from storage.search import search as run_search

    with _archive(ctx, readonly=True) as archive:
        hits = run_search(archive, query, lang=lang, kind=kind, limit=limit)
    if as_json:
        click.echo(json.dumps(hits, indent=2, ensure_ascii=False))
        return
    for hit in hits:
        # Text, not markup: titles and snippets may contain [brackets].
        published = (hit["published"] or "")[:10]
        meta = Text(f"  {hit['url']}  {hit['kind']} {hit['lang']} {published}".rstrip(), "dim")
        snippet = Text("  ")
        for i, part in enumerate(hit["snippet"].split(MARK)):
            snippet.append(part, style="bold yellow" if i % 2 else "")
        for line in (Text(hit["title"] or "(no title)", style="bold"), meta, snippet):
            console.print(line, highlight=False, soft_wrap=True)
    if not hits:
        err_console.print("no matches")


@cli.command("watches")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@click.pass_context
def watches_cmd(ctx: click.Context, as_json: bool) -> None:
    """The watches of the config file, with how many change events each matches."""
    from aaltowatch.watches import watch_record
    from storage.watches import count_watch_changes

    watches = _config(ctx).watches
    with _archive(ctx, readonly=True) as archive:
        records = [{**watch_record(w), "matches": count_watch_changes(archive, w)} for w in watches]
    if as_json:
        click.echo(json.dumps(records, indent=2, ensure_ascii=False))
        return
    if not records:
        err_console.print(
            "no watches: add [[aaltowatch.watch]] tables to the config file", markup=False
        )
    for r in records:
        filters = "; ".join(
            f"{key} {', '.join(r[key])}"
            for key in ("kinds", "langs", "categories", "changes")
            if r[key]
        )
        click.echo(f"{r['name']}  {r['matches']} matches  {r['feed']}")
        click.echo(f"  query: {r['query']}" + (f"  ({filters})" if filters else ""))
        for target in r["notify"]:
            click.echo(f"  notify: {target}" + (" (daily digest)" if r["digest"] != "none" else ""))


@cli.group("watch")
def watch_group() -> None:
    """One watch (saved search) of the config file."""


@watch_group.command("test")
@click.argument("name")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def watch_test(ctx: click.Context, name: str, limit: int, as_json: bool) -> None:
    """What watch NAME matches now, newest first: what its feed and messages would carry."""
    from aaltowatch.watches import find_watch
    from storage.export import change_record
    from storage.watches import count_watch_changes, watch_changes

    watch = find_watch(_config(ctx).watches, name)
    with _archive(ctx, readonly=True) as archive:
        total = count_watch_changes(archive, watch)
        rows = watch_changes(archive, watch, limit=limit)
        titles = [(archive.version(r["page_id"], r["version"]) or {}).get("title") for r in rows]
    records = [{**change_record(r), "title": t} for r, t in zip(rows, titles, strict=True)]
    if as_json:
        click.echo(json.dumps(records, indent=2, ensure_ascii=False))
        return
    for r in records:
        fields = f" [{', '.join(r['fields'])}]" if r["fields"] else ""
        click.echo(f"{r['detected_at']}  {r['change']:<9} {r['url']}{fields}")
        if r["title"]:
            click.echo(f"  {r['title']}")
    err_console.print(f"watch {name}: {total} matching change events ({len(records)} shown)")


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["ndjson", "csv", "json"]),
    default="ndjson",
    show_default=True,
)
@click.option("--since", help="Only pages whose content last changed since this ISO 8601 time.")
@click.option(
    "--published-since", help="Only pages the site dates (published) since this ISO 8601 time."
)
@click.option("--kind", type=click.Choice(KINDS))
@click.option("--lang", type=click.Choice(LANGS))
@click.pass_context
def export(
    ctx: click.Context,
    fmt: str,
    since: str | None,
    published_since: str | None,
    kind: str | None,
    lang: str | None,
) -> None:
    """Current pages to stdout."""
    from aaltowatch.core.text import iso_utc
    from storage.export import iter_pages, write_export

    for value, hint in ((since, "--since"), (published_since, "--published-since")):
        if value and not iso_utc(value):
            raise click.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint=hint)
    with _archive(ctx, readonly=True) as archive:
        pages = iter_pages(
            archive,
            since=iso_utc(since),
            published_since=iso_utc(published_since),
            kind=kind,
            lang=lang,
        )
        write_export(pages, fmt, sys.stdout)


@cli.command()
@click.pass_context
def prune(ctx: click.Context) -> None:
    """Drop old checks and unreferenced raw bodies (config: prune_checks_after_days), vacuum."""
    from aaltowatch.lock import run_lock
    from aaltowatch.prune import prune as run_prune

    config = _config(ctx)
    if not config.db.exists():
        raise AaltowatchError(f"no archive at {config.db}: run `aaltowatch crawl` first")
    with run_lock(config.effective_lock_file), _archive(ctx) as archive:
        report = run_prune(archive, config)
    err_console.print(
        f"pruned {report['checks']} checks and {report['raws']} raw bodies, recompressed"
        f" {report['recompressed']}; {report['vacuum']} vacuum:"
        f" {report['bytes_before'] / 1e6:.1f} MB -> {report['bytes_after'] / 1e6:.1f} MB"
    )


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the feeds and index page (ETag/Last-Modified, 304)."""
    from feeds.serve import serve_forever

    serve_forever(_config(ctx).feeds_dir, host=host, port=port, console=err_console)


@cli.command()
@click.pass_context
def reextract(ctx: click.Context) -> None:
    """Re-run page objects over stored raw HTML, so parser fixes reach history."""
    from aaltowatch.lock import run_lock
    from aaltowatch.reextract import reextract_all

    config = _config(ctx)
    if not config.db.exists():  # re-extracting nothing into a new empty archive helps no one
        raise AaltowatchError(f"no archive at {config.db}: run `aaltowatch crawl` first")
    with run_lock(config.effective_lock_file), _archive(ctx) as archive:
        report = reextract_all(archive, config)
    err_console.print(
        f"re-extracted {report['pages']} pages: {report['new_versions']} new versions,"
        f" {report['errors']} errors"
    )


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8001, show_default=True)
@click.pass_context
def browse(ctx: click.Context, host: str, port: int) -> None:
    """Browse the archive read-only in Datasette (pip install -e '.[web]')."""
    from aaltowatch.browse import browse as run_browse

    run_browse(_config(ctx).db, host=host, port=port)


@cli.command()
@click.option(
    "--keep", is_flag=True, help="Keep the previous demo output instead of starting over."
)
@click.pass_context
def demo(ctx: click.Context, keep: bool) -> None:
    """Serve the bundled snapshot on 127.0.0.1 and run the pipeline over both states."""
    from aaltowatch.demo import run_demo

    ctx.exit(
        run_demo(
            ctx.obj["config"],
            explicit_db=ctx.parent is not None and _db_given(ctx),
            keep=keep,
            console=err_console,
        )
    )


@cli.command()
@click.option("--refresh", is_flag=True, help="Rebuild the registry from the archive first.")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@click.pass_context
def partners(ctx: click.Context, refresh: bool, as_json: bool) -> None:
    """Partners (cities, regions, universities, companies) of the partnership pages."""
    from aaltowatch.partners import print_partners
    from storage.partners import partners as list_partners

    config = _config(ctx)
    if refresh:
        from aaltowatch.lock import run_lock
        from aaltowatch.partners import refresh_partners

        with run_lock(config.effective_lock_file), _archive(ctx) as archive:
            refresh_partners(archive, config)
    with _archive(ctx, readonly=True) as archive:
        rows = list_partners(archive)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        print_partners(rows, console)


def _db_given(ctx: click.Context) -> bool:
    source = ctx.find_root().get_parameter_source("db")
    return source is not None and source.name != "DEFAULT"


def main() -> None:
    try:
        # Without standalone mode click returns ctx.exit()'s code instead of raising it.
        code = cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except click.exceptions.Abort:
        err_console.print("aborted")
        sys.exit(EXIT_FAILED)
    except AaltowatchError as exc:
        # soft_wrap: one line however long, for logs and scripts that read the first line.
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        sys.exit(exc.exit_code)
    except sqlite3.DatabaseError as exc:
        err_console.print(f"[red]error:[/red] not a usable aaltowatch archive: {escape(str(exc))}")
        sys.exit(EXIT_FAILED)
    except OSError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        sys.exit(EXIT_FAILED)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


if __name__ == "__main__":
    main()
