"""Configuration: defaults < TOML file < environment < command-line flags, frozen once built.

One immutable object travels from the CLI to the spiders, pipeline, feeds and scheduler, so a
run can never see two different settings.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from aaltowatch.core.errors import ConfigError
from aaltowatch.core.urls import SECTIONS, SPIDER_NAMES
from aaltowatch.core.watchconfig import Watch, parse_watches

ENV_PREFIX = "AALTOWATCH_"

Check = typing.Callable[[Any], str | None]


def at_least(low: float) -> Check:
    return lambda v: None if v >= low else f"must be at least {low:g}"


def above(low: float) -> Check:
    return lambda v: None if v > low else f"must be greater than {low:g}"


def share(v: float) -> str | None:
    return None if 0 <= v <= 1 else "must be between 0 and 1"


def crontab(v: str) -> str | None:
    """A 5-field crontab expression, checked by the same parser the scheduler uses."""
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(v, timezone="UTC")
    except ValueError as exc:
        return f"is not a crontab expression like '*/30 * * * *' ({exc})"
    return None


def http_url_or_empty(v: str) -> str | None:
    from urllib.parse import urlsplit

    if not v:
        return None
    parts = urlsplit(v)
    ok = parts.scheme in ("http", "https", "file") and (parts.netloc or parts.scheme == "file")
    return None if ok else "must be an absolute http(s) or file URL, or empty"


def one_of(*choices: str) -> Check:
    return lambda v: None if str(v).upper() in choices else f"must be one of {', '.join(choices)}"


def revisit_policy(v: str) -> str | None:
    from aaltowatch.core.planner import RevisitPolicy

    choices = [p.value for p in RevisitPolicy]
    return None if v in choices else f"must be one of {', '.join(choices)}"


def setting(default: Any, check: Check) -> Any:
    """A field with its valid range declared next to it (checked by `validate`)."""
    return field(default=default, metadata={"check": check})


@dataclass(frozen=True)
class HealthThresholds:
    """When a run counts as unhealthy (exit code 3)."""

    # fewer pages than this from a spider = zero-items alert
    min_items: int = setting(1, at_least(0))
    max_error_rate: float = setting(0.2, share)  # failed requests / requests
    # share of pages whose required fields came from selectors
    min_field_coverage: float = setting(0.8, share)
    # Share of the known live pages (of one spider's kind) that may answer 404/410 in one run;
    # above it nothing is marked removed and the run alerts (mass_disappearance).
    max_missing_share: float = setting(0.2, share)
    # Share of the known live pages that may answer 301 to another page in one run; above it
    # nothing is marked moved and the run alerts (mass_move).
    max_moved_share: float = setting(0.2, share)
    # fewer known pages: no share guards at all
    min_known_for_missing_check: int = setting(4, at_least(0))


@dataclass(frozen=True)
class ScheduleTimes:
    """How the long-running scheduler runs its jobs (whatever the spiders)."""

    misfire_grace_s: int = setting(300, at_least(1))
    crawl_timeout_s: int = setting(3600, above(0))
    # Seconds a running crawl may take to finish after SIGTERM/SIGINT before it is signalled.
    stop_grace_s: float = setting(30.0, at_least(0))
    # Then, after its SIGTERM, seconds it gets to close (in-flight downloads, its run row)
    # before SIGKILL; a killed crawl's run is marked interrupted by the scheduler.
    close_grace_s: float = setting(60.0, above(0))

    def entry(self, spider: str) -> tuple[str, float]:
        """A spider's cron expression and fixed interval (> 0 replaces the cron expression)."""
        return getattr(self, spider), getattr(self, f"{spider}_interval_s")

    @property
    def entries(self) -> dict[str, tuple[str, float]]:
        """Spider -> (cron, interval): one scheduler job each."""
        return {spider: self.entry(spider) for spider in SPIDER_NAMES}


# `[schedule]`: per spider of the site model (aaltowatch.core.urls.SECTIONS) a crontab expression
# under the spider's name (e.g. `news = "*/30 * * * *"`) and `<spider>_interval_s`, > 0 to
# run every N seconds instead (tests, demos).
# A type checker cannot see fields made at run time: to it a Schedule is its fixed part, and the
# per-spider fields are read through `entry()`.
if typing.TYPE_CHECKING:
    Schedule = ScheduleTimes
else:
    Schedule = dataclasses.make_dataclass(
        "Schedule",
        [
            spec
            for section in SECTIONS
            for spec in (
                (section.spider, str, setting(section.cron, crontab)),
                (f"{section.spider}_interval_s", float, setting(0.0, at_least(0))),
            )
        ],
        bases=(ScheduleTimes,),
        frozen=True,
    )
Schedule.__module__ = __name__
Schedule.__doc__ = "Cron expressions (crontab syntax) for the long-running scheduler."


@dataclass(frozen=True)
class PartnerAlias:
    """`[[aaltowatch.partner]]`: extra names (inflected forms, other languages) of a partner.

    `name` picks the partner (any of its names, any case); with `pages` (URLs) it also names
    the partner of those pages, overriding the names read from the site.
    """

    name: str = ""
    aliases: tuple[str, ...] = ()
    pages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    db: Path = Path("data/aaltowatch.db")
    base_url: str = "https://www.aalto.fi"
    feeds_dir: Path = Path("data/feeds")
    # Where readers fetch the feeds from (e.g. https://example.org/aaltowatch/): the OPML's
    # xmlUrls and the feeds' rel="self" links. Empty: the feeds directory as file:// URLs,
    # which `serve` rewrites to its own http:// URL.
    feeds_base_url: str = setting("", http_url_or_empty)
    user_agent: str = "aaltowatch/0.1 (+https://github.com/aaltowatch/aaltowatch; news monitor)"
    # Politeness: robots.txt Crawl-delay is honoured up to this cap (seconds).
    crawl_delay_cap: float = setting(10.0, at_least(0))
    download_delay: float = setting(1.0, at_least(0))
    concurrent_requests_per_domain: int = setting(2, at_least(1))
    autothrottle: bool = True
    retry_times: int = setting(3, at_least(0))
    # The run stops after this many requests in a row failed to connect (DNS, refused,
    # timeout; never HTTP 5xx, which is retried): one site_unreachable alert, not a warning per
    # page for minutes. 0 = never stop for that.
    max_connection_failures: int = setting(5, at_least(0))
    download_timeout: float = setting(30.0, above(0))
    max_page_bytes: int = setting(10 * 1024 * 1024, at_least(1))
    # Listing pages per run (all languages); an endless pager stops here (0 = no bound).
    max_listing_pages: int = setting(1000, at_least(0))
    # Skip a request when the sitemap lastmod did not move and the page was fetched less than
    # this many hours ago. 0 = always revalidate (a conditional GET): the site has been seen
    # changing a page's body without moving its lastmod.
    lastmod_skip_max_age_h: float = setting(0.0, at_least(0))
    revisit_known: bool = True
    # A mirror on this machine (base_url on 127.0.0.1/localhost: tests, the demo) is crawled
    # without politeness delays (download delay, AutoThrottle, robots.txt Crawl-delay); true
    # keeps them there too.
    local_mirror_delays: bool = False
    # Crawl planner (aaltowatch/core/planner.py). Requests one spider's run may make; 0 = derived
    # from the news schedule interval and the politeness delay, so a run ends well inside it.
    max_requests_per_run: int = setting(0, at_least(0))
    # adaptive: revalidate the pages likely to have changed (and overdue ones); round_robin:
    # the least recently checked pages; all: every known page every run (no budget).
    revisit_policy: str = setting("adaptive", revisit_policy)
    # Every live page is revalidated at least this often (silent edits, removals).
    revisit_max_days: float = setting(6.0, above(0))
    # News younger than 30 days (edited far more often) at least this often.
    revisit_recent_max_hours: float = setting(5.0, above(0))
    # adaptive: a revalidation is worth a request when importance x P(changed) reaches this.
    revisit_min_value: float = setting(0.1, at_least(0))
    # adaptive: a run fills its revalidations up to this share of max_requests_per_run with the
    # pages longest unverified (silent edits, removals, moves are found only by asking). 0.35:
    # at 20,000 pages and 900 a run, ~315 revalidations + ~70 discovery and new pages a run is
    # ~18,500 requests a day, under 25 % of the 86,400 a day that 1 req/s allows.
    revisit_fill_share: float = setting(0.35, share)
    feed_max_entries: int = setting(50, at_least(1))
    # An archive holds one site (aaltowatch.core.site): a crawl of another is refused unless
    # this is true (`--allow-other-site`); then both sites' pages mix in the archive.
    allow_other_site: bool = False
    # Trust boundary: extra mirrors ("host" or "host:port") that may be crawled besides
    # www.aalto.fi, aalto.fi (http/https) and base_url. Nothing else is ever requested.
    allowed_hosts: tuple[str, ...] = ()
    # Hard bounds (docs/operations.md "Bounds"); reaching one is a `bound_reached` alert.
    # Response status line + headers, per response.
    max_header_bytes: int = setting(64 * 1024, at_least(1024))
    # Body bytes downloaded per run; then the run stops.
    max_bytes_per_run: int = setting(2 * 1024**3, at_least(1))
    max_sitemap_depth: int = setting(2, at_least(0))  # sitemap index levels below /sitemap.xml
    # Entries read from one sitemap (the protocol's own limit).
    max_sitemap_urls: int = setting(50_000, at_least(1))
    run_deadline_s: float = setting(3000.0, at_least(0))  # the run stops cleanly (0 = none)
    max_categories_per_item: int = setting(20, at_least(1))  # categories kept per page
    # category-*.xml/.atom feeds written (largest first).
    max_category_feeds: int = setting(200, at_least(0))
    # `aaltowatch prune` drops checks older than this many days (each page keeps their summary
    # in check_stats, which the planner reads); 0 = keep every check.
    prune_checks_after_days: float = setting(90.0, at_least(0))
    lock_file: Path | None = None
    metrics_file: Path | None = None
    log_level: str = setting("INFO", one_of("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
    health: HealthThresholds = field(default_factory=HealthThresholds)
    schedule: Schedule = field(default_factory=Schedule)
    watches: tuple[Watch, ...] = ()
    # A notification target that failed this many runs in a row raises a health alert.
    notify_alert_after: int = setting(3, at_least(1))
    # Messages per target per run; the rest is sent by the next runs, oldest first.
    notify_max_per_run: int = setting(20, at_least(1))
    # Seconds between two messages to one target; None = Apprise's own throttle (~5.5 s).
    notify_interval_s: float | None = setting(None, at_least(0))
    partner: tuple[PartnerAlias, ...] = ()

    @property
    def is_local(self) -> bool:
        """True when crawling a mirror on this machine (tests, demo): politeness delays drop."""
        from urllib.parse import urlsplit

        return (urlsplit(self.base_url).hostname or "") in ("127.0.0.1", "localhost", "::1")

    @property
    def skip_delays(self) -> bool:
        """Every politeness delay is dropped together, or none is (see local_mirror_delays)."""
        return self.is_local and not self.local_mirror_delays

    @property
    def effective_lock_file(self) -> Path:
        return self.lock_file or self.db.with_suffix(".lock")

    @property
    def effective_metrics_file(self) -> Path:
        return self.metrics_file or self.db.with_name("aaltowatch.prom")

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _coerce(value: Any, hint: Any, name: str) -> Any:
    """Turn TOML/env values into the field's declared type, with a clear error for the user."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    kind = args[0] if args else hint  # `Path | None` -> Path
    if typing.get_origin(hint) is tuple:  # a TOML array (of strings or of tables)
        return _coerce_array(value, kind, name)
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text not in _TRUE + _FALSE:
                raise ValueError(text)
            return text in _TRUE
        if kind is Path:
            return Path(value).expanduser() if value not in (None, "") else None
        if kind in (int, float, str):
            return kind(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config: {name} = {value!r} is not a valid value") from exc
    return value


def _env_value(text: str, hint: Any) -> Any:
    """An environment variable is one string: a list setting is written "a, b"."""
    if typing.get_origin(hint) is tuple:
        return [v.strip() for v in text.split(",") if v.strip()]
    return text


def _is_table_array(hint: Any) -> bool:
    """`tuple[SomeDataclass, ...]`: [[tables]] of the config file."""
    args = typing.get_args(hint)
    return typing.get_origin(hint) is tuple and bool(args) and dataclasses.is_dataclass(args[0])


def _coerce_array(value: Any, kind: Any, name: str) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"config: {name} must be an array")
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        if not all(isinstance(v, dict) for v in value):
            raise ConfigError(f"config: [[{name}]] entries must be tables")
        entries = tuple(_apply(kind(), v, f"config [[{name}]]") for v in value)
        if any(not getattr(e, "name", "x").strip() for e in entries):
            raise ConfigError(f"config: every [[{name}]] needs a name")
        return entries
    if not all(isinstance(v, str) for v in value):
        raise ConfigError(f"config: {name} must be an array of strings")
    return tuple(value)


def _keep(problems: list[str] | None, exc: ConfigError) -> None:
    """Raise the problem, or, for `config check` (a list to fill), note it and go on."""
    if problems is None:
        raise exc
    problems.append(str(exc))


def _attempt(
    problems: list[str] | None, check: typing.Callable[[Config], None], cfg: Config
) -> None:
    try:
        check(cfg)
    except ConfigError as exc:
        _keep(problems, exc)


def _apply(obj: Any, values: dict[str, Any], where: str, problems: list[str] | None = None) -> Any:
    """`obj` with `values` applied; a refused value keeps the one before it."""
    known = {f.name: f for f in fields(obj)}
    hints = typing.get_type_hints(type(obj))
    changes: dict[str, Any] = {}
    for key, value in values.items():
        name = key.replace("-", "_")
        try:
            if name not in known:
                raise ConfigError(f"{where}: unknown setting {key!r}")
            current = getattr(obj, name)
            if dataclasses.is_dataclass(current):
                if not isinstance(value, dict):
                    raise ConfigError(f"{where}: [{name}] must be a table")
                changes[name] = _apply(current, value, f"{where} [{name}]", problems)
            else:
                changes[name] = _coerce(value, hints[name], name)
        except ConfigError as exc:
            _keep(problems, exc)
    return dataclasses.replace(obj, **changes)


@dataclass(frozen=True)
class Sources:
    """Where the effective config came from: defaults < `file` < environment < options."""

    file: Path | None = None
    # setting -> what set it: the file's path, an AALTOWATCH_* variable, or "option"
    origins: dict[str, str] = field(default_factory=dict)


def load_config(
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Config:
    """Build the frozen config from defaults, the TOML file, AALTOWATCH_* variables and flags;
    the first problem is a ConfigError."""
    return _build(config_file, overrides, environ, None)[0]


def check_config(
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> tuple[Config, Sources, list[str]]:
    """`config check`: every problem (one line each) instead of the first, with the config
    built from what was accepted and where each setting came from."""
    problems: list[str] = []
    cfg, sources = _build(config_file, overrides, environ, problems)
    return cfg, sources, problems


def _build(
    config_file: Path | None,
    overrides: dict[str, Any] | None,
    environ: dict[str, str] | None,
    problems: list[str] | None,
) -> tuple[Config, Sources]:
    env = os.environ if environ is None else environ
    cfg = Config()
    origins: dict[str, str] = {}
    path = config_file or (
        Path(env[f"{ENV_PREFIX}CONFIG"]) if env.get(f"{ENV_PREFIX}CONFIG") else None
    )
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            _keep(problems, ConfigError(f"config file not found: {path}"))
            data = {}
        except tomllib.TOMLDecodeError as exc:
            _keep(problems, ConfigError(f"config file {path} is not valid TOML: {exc}"))
            data = {}
        table = dict(data.get("aaltowatch", data))
        watch_tables = table.pop("watch", None)
        if "watches" in table:
            _keep(problems, ConfigError(f"{path}: declare watches as [[aaltowatch.watch]] tables"))
            del table["watches"]
        cfg = _apply(cfg, table, str(path), problems)
        if watch_tables is not None:
            table["watches"] = watch_tables
            try:
                cfg = cfg.replace(watches=parse_watches(watch_tables, str(path), env))
            except ConfigError as exc:
                _keep(problems, exc)
        names = {k.replace("-", "_") for k in table} & {f.name for f in fields(cfg)}
        origins.update(dict.fromkeys(sorted(names), str(path)))
    hints = typing.get_type_hints(Config)
    env_names = {
        f.name: ENV_PREFIX + f.name.upper()
        for f in fields(cfg)
        if not dataclasses.is_dataclass(getattr(cfg, f.name))
        and not _is_table_array(hints[f.name])  # watches, partners: from the file only
        and ENV_PREFIX + f.name.upper() in env
    }
    from_env = {name: _env_value(env[var], hints[name]) for name, var in env_names.items()}
    cfg = _apply(cfg, from_env, "environment", problems)
    options = {k: v for k, v in (overrides or {}).items() if v is not None}
    cfg = _apply(cfg, options, "option", problems)
    origins.update(env_names)
    origins.update(dict.fromkeys(options, "option"))
    _attempt(problems, _check_base_url, cfg)
    for problem in _range_problems(cfg, ""):
        _keep(problems, ConfigError(problem))
    _attempt(problems, _check_boundary, cfg)
    return cfg, Sources(path, origins)


def _check_boundary(cfg: Config) -> None:
    """allowed_hosts must be hosts or host:port (the ranges of the bounds are on their fields)."""
    from aaltowatch.core.boundary import Boundary

    try:
        Boundary.from_config(cfg)
    except ValueError as exc:
        raise ConfigError(f"config: {exc}") from exc


def validate(obj: Any, section: str = "") -> None:
    """Every field's declared range (`setting(..., check)`), nested tables included."""
    problem = next(_range_problems(obj, section), None)
    if problem:
        raise ConfigError(problem)


def _range_problems(obj: Any, section: str) -> Iterator[str]:
    for f in fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from _range_problems(value, f"[{f.name}] ")
            continue
        check = f.metadata.get("check")
        problem = check(value) if check is not None and value is not None else None
        if problem:
            yield f"config: {section}{f.name} = {value!r} {problem}"


def _check_base_url(cfg: Config) -> None:
    """The site's origin: pages are fetched at the same paths as on www.aalto.fi."""
    from urllib.parse import urlsplit

    url = cfg.base_url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
        raise ConfigError(
            f"base_url {url!r} must be an origin like https://www.aalto.fi or http://127.0.0.1:8123"
        )
