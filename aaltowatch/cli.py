"""The `aaltowatch` command line (docs/DESIGN.md §7): exit 0 ok, 1 failed, 2 usage, 3 unhealthy."""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from aaltowatch import __version__
from aaltowatch.core.config import ENV_PREFIX, Config, load_config
from aaltowatch.core.enums import ChangeKind
from aaltowatch.core.errors import (
    EXIT_CODES,
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
DEFAULTS = Config()


def _epilog(*paragraphs: str) -> str:
    """Help text after the options, each paragraph kept as written (click's \\b marker)."""
    return "\n\n".join("\b\n" + p for p in paragraphs)


EXIT_CODES_HELP = "Exit codes:\n" + "\n".join(
    textwrap.fill(meaning, 76, initial_indent=f"  {code}  ", subsequent_indent="     ")
    for code, meaning in EXIT_CODES.items()
)
MAIN_EPILOG = _epilog(
    "Examples:\n"
    "  aaltowatch demo                   # the pipeline on the bundled snapshot, offline\n"
    "  aaltowatch run --once             # crawl + feeds + health checks (cron)\n"
    "  aaltowatch status                 # last runs and health\n"
    "  aaltowatch changes --change modified\n"
    "  aaltowatch search 'Espoo OR Vantaa' --lang en\n"
    "  aaltowatch COMMAND --help         # each command's options and examples",
    f"Environment: every setting of the config file can also be given as\n"
    f"{ENV_PREFIX}<NAME>, e.g. {ENV_PREFIX}RETRY_TIMES=1 (file < environment < options).",
    EXIT_CODES_HELP,
)


def _config(ctx: click.Context) -> Config:
    return ctx.obj["config"]


def _archive(ctx: click.Context, *, readonly: bool = False) -> Any:
    from storage import open_archive

    return open_archive(_config(ctx).db, readonly=readonly)


def _require_archive(db: Path) -> None:
    """Commands that work on an archive never create a new empty one (nor its lock file)."""
    if not Path(db).exists():
        raise AaltowatchError(f"no archive at {db}: run `aaltowatch crawl` first")


def _existing_archive(ctx: click.Context) -> Any:
    """Writable (watch matches are stored on the way), but never a new empty archive."""
    _require_archive(_config(ctx).db)
    return _archive(ctx)


@contextmanager
def _locked_archive(ctx: click.Context) -> Iterator[Any]:
    """The existing archive under the run lock, for commands that rewrite it (prune,
    reextract); checked before the lock file is made."""
    from aaltowatch.core.lock import run_lock

    config = _config(ctx)
    _require_archive(config.db)
    with run_lock(config.effective_lock_file), _archive(ctx) as archive:
        yield archive


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
    epilog=MAIN_EPILOG,
)
@click.option(
    "--db",
    type=click.Path(path_type=Path),
    envvar="AALTOWATCH_DB",
    show_envvar=True,
    help=f"SQLite archive (default {DEFAULTS.db}).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    envvar="AALTOWATCH_CONFIG",
    show_envvar=True,
    help="TOML config file.",
)
@click.option(
    "--base-url",
    envvar="AALTOWATCH_BASE_URL",
    show_envvar=True,
    help=f"Where to fetch the site from (default {DEFAULTS.base_url}).",
)
@click.option(
    "--feeds-dir",
    type=click.Path(path_type=Path),
    envvar="AALTOWATCH_FEEDS_DIR",
    show_envvar=True,
    help=f"Where feeds are written (default {DEFAULTS.feeds_dir}).",
)
@click.option(
    "--allow-other-site",
    is_flag=True,
    default=None,
    show_default=False,
    help="Crawl a site other than the one the archive holds (its pages then mix);"
    f" or {ENV_PREFIX}ALLOW_OTHER_SITE=1.",
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
    allow_other_site: bool | None,
    verbose: bool,
) -> None:
    """Watch www.aalto.fi news and partnership pages: archive, detect changes, publish feeds."""
    overrides = {
        "db": db,
        "base_url": base_url,
        "feeds_dir": feeds_dir,
        "allow_other_site": allow_other_site,
    }
    if verbose:
        overrides["log_level"] = "DEBUG"
    if ctx.invoked_subcommand == "config":  # it reads the config itself: every problem, not one
        _setup_logging("WARNING")
        ctx.obj = {"config_file": config_file, "overrides": overrides}
        return
    config = load_config(config_file, overrides)
    _setup_logging(config.log_level if verbose else "WARNING")
    ctx.obj = {"config": config, "config_file": config_file}


@cli.command(
    epilog=_epilog(
        "Examples:\n  aaltowatch crawl\n  aaltowatch crawl --spider news --no-progress",
        EXIT_CODES_HELP,
    )
)
@click.option(
    "--spider", type=click.Choice([*SPIDER_NAMES, "all"]), default="all", show_default=True
)
@click.option("--no-progress", is_flag=True, help="No live progress display.")
@click.pass_context
def crawl(ctx: click.Context, spider: str, no_progress: bool) -> None:
    """One crawl into the archive, progress shown."""
    from aaltowatch.core.lock import run_lock
    from aaltowatch.crawlcmd import crawl_archive, print_summaries
    from aaltowatch.steps import Step, Steps, after_crawl

    config = _config(ctx)
    with run_lock(config.effective_lock_file):  # never two writers crawling one archive
        summaries = crawl_archive(config, spider, err_console if not no_progress else None)
        steps = Steps.crawled(config, summaries)
        with _archive(ctx) as archive:
            after_crawl(steps, archive, only=(Step.STORE,))  # the derived data, not the outputs
    print_summaries(summaries, err_console)
    ctx.exit(steps.exit_code())


@cli.command()
@click.pass_context
def feeds(ctx: click.Context) -> None:
    """(Re)build all feeds."""
    from aaltowatch.publish import publish_feeds

    config = _config(ctx)
    with _existing_archive(ctx) as archive:  # writes: events matched to watches, new feed names
        report = publish_feeds(archive, config)
    err_console.print(
        f"feeds in {config.feeds_dir}: {len(report.written)} written,"
        f" {len(report.unchanged)} unchanged"
    )
    for part, error in report.failed.items():  # each failed alone; the rest was written
        err_console.print(f"[red]FAILED[/red] {escape(part)}: {escape(error)}")
    if report.failed:
        ctx.exit(EXIT_FAILED)


@cli.command(
    "run",
    epilog=_epilog(
        "Example (crontab; call the binary, `make run` exits 2 on any failure):\n"
        "  */30 * * * *  cd /srv/aaltowatch && .venv/bin/aaltowatch run --once --spider news",
        EXIT_CODES_HELP,
    ),
)
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
    from aaltowatch.core.site import Site, claim_site

    config = _config(ctx)
    with _archive(ctx) as archive:  # another site is refused now, not at every job
        claim_site(archive, Site.of(config), allow_other=config.allow_other_site)
    ctx.exit(scheduler.run_forever(_config(ctx), ctx.obj.get("config_file")))


@cli.command(epilog=_epilog("Exit codes: 0 healthy, 3 unhealthy (as the latest runs were)."))
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@click.option("--limit", default=10, show_default=True, help="Runs shown.")
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


@cli.command(
    epilog=_epilog(
        "Examples:\n"
        "  aaltowatch changes --change modified --since 2026-01-01\n"
        "  aaltowatch changes --kind news --lang fi --limit 20 --json"
    )
)
@click.option("--since", help="ISO 8601 time; only changes detected since then.")
@click.option("--kind", type=click.Choice(KINDS))
@click.option("--lang", type=click.Choice(LANGS))
@click.option(
    "--change",
    "change_type",
    type=click.Choice([kind.value for kind in ChangeKind]),
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
        if run_id is not None and archive.runs.get(run_id) is None:
            raise click.BadParameter(
                f"there is no run {run_id} in {archive.path}", param_hint="--run"
            )
        rows = archive.queries.changes(
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
    if not records:
        filtered = any(v is not None for v in (since, kind, lang, change_type, run_id))
        err_console.print("no changes" + (" match these options" if filtered else " yet"))
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
    shown = len(checks["recent"])
    click.echo(
        f"last verified {checks['last_verified'] or '-'}; {checks['count']} checks"
        f" ({checks['verified']} got the page, {checks['changed']} found a change)"
        + (f", latest {shown} shown" if shown < checks["count"] else "")
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
        found = version_diff(archive, url, from_version, to_version, _config(ctx).base_url)
    if found.old == found.new:
        why = (
            f"has only one version (v{found.old})"
            if from_version is None
            else f"--from and --to are both v{found.old}"
        )
        err_console.print(f"{found.url} {why}: nothing to compare", markup=False)
        return
    click.echo(found.text or f"(no differences between v{found.old} and v{found.new})")


@cli.command(
    epilog=_epilog(
        "Examples:\n"
        "  aaltowatch search Vantaa\n"
        "  aaltowatch search 'Espoo OR Vantaa' --lang en --limit 50\n"
        "  aaltowatch search '\"city campus\" NOT Otaniemi'"
    )
)
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

    from aaltowatch.core.query import operator_hint
    from storage.search import MARK

    with _archive(ctx, readonly=True) as archive:
        hits = archive.search.pages(query, lang=lang, kind=kind, limit=limit)
        total = (
            archive.search.count_matches(query, lang=lang, kind=kind) if len(hits) == limit else 0
        )
    hints = [operator_hint(query)]
    if total > limit:  # on stderr, so JSON on stdout stays JSON
        hints.append(f"{limit} of {total} matches shown; use --limit {total} for all")
    if as_json:
        click.echo(json.dumps(hits, indent=2, ensure_ascii=False))
        for hint in filter(None, hints):
            err_console.print(f"hint: {hint}", markup=False, highlight=False)
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
    for hint in filter(None, hints):
        err_console.print(f"hint: {hint}", markup=False, highlight=False)


@cli.command("watches")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@click.pass_context
def watches_cmd(ctx: click.Context, as_json: bool) -> None:
    """The watches of the config file, with how many change events each matches."""
    from aaltowatch.core.watchconfig import MATCH_CHANGED
    from aaltowatch.watches import match_watches, watch_record
    from storage.watches import backfill_progress

    watches = _config(ctx).watches
    with _existing_archive(ctx) as archive:  # events not matched yet are matched first
        match_watches(archive, watches)
        records = []
        for w in watches:
            state = archive.watches.stored_state(w)
            done, history = backfill_progress(state) if state else (0, 0)
            records.append(
                {**watch_record(w), "matches": archive.watches.count_changes(w),
                 "history_matched": [done, history]}
            )  # fmt: skip
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
        done, history = r["history_matched"]
        partial = f" (history matched: {done} of {history} events)" if done < history else ""
        click.echo(f"{r['name']}  {r['matches']} matches{partial}  {r['feed']}")
        if r["match"] != MATCH_CHANGED:
            filters = "; ".join(filter(None, [filters, f"edits match by the {r['match']}"]))
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
@click.option(
    "--send", is_flag=True, help="Also send one test message to each of its notify targets."
)
@click.pass_context
def watch_test(ctx: click.Context, name: str, limit: int, as_json: bool, send: bool) -> None:
    """What watch NAME matches, newest first, with why (the matched snippet): what its feed
    and messages carry. History is matched on first use, a bounded share per call.

    Exit 1 when --send could not deliver to one of its targets."""
    from aaltowatch.core.errors import ConfigError
    from aaltowatch.notify.deliver import send_test
    from aaltowatch.notify.message import snippet_text
    from aaltowatch.watches import find_watch, match_watches
    from storage.export import change_record
    from storage.watches import backfill_progress

    watch = find_watch(_config(ctx).watches, name)
    if send and not watch.notify:
        raise ConfigError(f"watch {name} has no notify targets: nothing to send a test to")
    with _existing_archive(ctx) as archive:  # the watch's new matches are stored first
        match_watches(archive, [watch])
        total = archive.watches.count_changes(watch)
        rows = archive.watches.changes(watch, limit=limit)
        titles = [
            (archive.pages.version(r["page_id"], r["version"]) or {}).get("title") for r in rows
        ]
        state = archive.watches.stored_state(watch)
        sent = send_test(archive, watch) if send else []
    records = [
        {**change_record(r), "title": t, "match": snippet_text(r["snippet"]),
         "notified": bool(r["pushable"])}
        for r, t in zip(rows, titles, strict=True)
    ]  # fmt: skip
    if as_json:
        click.echo(json.dumps(records, indent=2, ensure_ascii=False))
    else:
        for r in records:
            fields = f" [{', '.join(r['fields'])}]" if r["fields"] else ""
            baseline = "" if r["notified"] else "  (baseline: not notified)"
            click.echo(f"{r['detected_at']}  {r['change']:<9} {r['url']}{fields}{baseline}")
            if r["title"]:
                click.echo(f"  {r['title']}")
            click.echo(f"  match: {r['match']}")
    done, history = backfill_progress(state) if state else (0, 0)
    progress = f"; history matched {done} of {history} events" if done < history else ""
    err_console.print(
        f"watch {name}: {total} matching change events ({len(records)} shown){progress}",
        markup=False,
    )
    for label, ok in sent:
        err_console.print(f"test message to {label}: {'sent' if ok else 'FAILED'}", markup=False)
    if any(not ok for _, ok in sent):
        ctx.exit(EXIT_FAILED)


@cli.group("config")
def config_group() -> None:
    """The config as a run reads it: defaults < TOML file < AALTOWATCH_* < options."""


def _checked_config(ctx: click.Context) -> tuple[Any, Any, list[str]]:
    """The config, where each setting came from (an option by its flag or variable), problems."""
    from aaltowatch.core.config import check_config

    root = ctx.find_root()
    config, sources, problems = check_config(ctx.obj["config_file"], ctx.obj["overrides"])
    for name, origin in sources.origins.items():
        param = "verbose" if name == "log_level" else name
        if origin == "option":
            source = root.get_parameter_source(param)
            flag = next(p for p in root.command.params if p.name == param)
            from_env = source is not None and source.name == "ENVIRONMENT"
            if from_env and isinstance(flag.envvar, str):
                sources.origins[name] = flag.envvar
            else:
                sources.origins[name] = flag.opts[-1]
    return config, sources, problems


@config_group.command("check")
@click.pass_context
def config_check(ctx: click.Context) -> None:
    """Check the config: one line per problem; exit 0 if it is fine, 2 if not.

    \b
    Example: aaltowatch --config aaltowatch.toml config check
    """
    from aaltowatch.configcmd import source_lines, summary

    config, sources, problems = _checked_config(ctx)
    for line in source_lines(sources):
        click.echo(line)
    for problem in problems:
        click.echo(f"problem: {' '.join(problem.split())}")
    if problems:
        click.echo(f"{len(problems)} problem{'s' if len(problems) != 1 else ''}")
        ctx.exit(EXIT_USAGE)
    click.echo(f"ok: {summary(config)}")


@config_group.command("show")
@click.pass_context
def config_show(ctx: click.Context) -> None:
    """The effective config as TOML, notify URLs by label (never their secrets).

    Exits 2, with the problems, when the config is not valid (see `config check`).
    """
    from aaltowatch.configcmd import effective_toml

    config, sources, problems = _checked_config(ctx)
    if problems:
        for problem in problems:
            err_console.print(f"problem: {' '.join(problem.split())}", markup=False)
        ctx.exit(EXIT_USAGE)
    click.echo(effective_toml(config, sources), nl=False)


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
    from storage.export import write_export

    for value, hint in ((since, "--since"), (published_since, "--published-since")):
        if value and not iso_utc(value):
            raise click.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint=hint)
    with _archive(ctx, readonly=True) as archive:
        pages = archive.queries.export_pages(
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
    from aaltowatch.prune import prune as run_prune

    with _locked_archive(ctx) as archive:
        report = run_prune(archive, _config(ctx))
    err_console.print(
        f"pruned {report['checks']} checks and {report['raws']} raw bodies, recompressed"
        f" {report['recompressed']}, stored {report['deltas']} as deltas;"
        f" {report['vacuum']} vacuum:"
        f" {report['bytes_before'] / 1e6:.1f} MB -> {report['bytes_after'] / 1e6:.1f} MB"
    )


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the feeds and index page (ETag/Last-Modified, 304), and search feeds from the
    archive: /search.xml?q=Vantaa&kind=news&lang=en&change=new (or /search.atom)."""
    from feeds.serve import serve_forever

    config = _config(ctx)
    serve_forever(
        config.feeds_dir,
        host=host,
        port=port,
        console=err_console,
        archive=config.db,
        max_entries=config.feed_max_entries,
    )


@cli.command()
@click.pass_context
def reextract(ctx: click.Context) -> None:
    """Re-run page objects over stored raw HTML, so parser fixes reach history."""
    from aaltowatch.reextract import reextract_all

    with _locked_archive(ctx) as archive:
        report = reextract_all(archive, _config(ctx))
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
            config_file=ctx.obj["config_file"],
        )
    )


@cli.command()
@click.option("--refresh", is_flag=True, help="Rebuild the registry from the archive first.")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@click.pass_context
def partners(ctx: click.Context, refresh: bool, as_json: bool) -> None:
    """Partners (cities, regions, universities, companies) of the partnership pages."""
    from aaltowatch.partners import print_partners

    config = _config(ctx)
    if refresh:
        from aaltowatch.core.lock import run_lock
        from aaltowatch.partners import refresh_partners

        with run_lock(config.effective_lock_file), _archive(ctx) as archive:
            refresh_partners(archive, config)
    with _archive(ctx, readonly=True) as archive:
        rows = archive.partners.all()
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        print_partners(rows, console)


def _db_given(ctx: click.Context) -> bool:
    source = ctx.find_root().get_parameter_source("db")
    return source is not None and source.name != "DEFAULT"


def _dash_hint(ctx: click.Context | None) -> str:
    """An argument that starts with '-' (`search -Espoo`) reads as an option: say how to pass
    it, for commands that take arguments."""
    params = ctx.command.params if ctx is not None else []
    names = [p.human_readable_name for p in params if isinstance(p, click.Argument)]
    if ctx is None or not names:
        return ""
    return (
        f" A {names[0]} that starts with '-' goes after '--':"
        f" {ctx.command_path} -- -{names[0].lower()}"
    )


def main() -> None:
    try:
        # Without standalone mode click returns ctx.exit()'s code instead of raising it.
        code = cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        if isinstance(exc, click.NoSuchOption):  # its message is final: a new one, with the hint
            exc = click.NoSuchOption(
                exc.option_name, exc.message + _dash_hint(exc.ctx), exc.possibilities, exc.ctx
            )
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
