"""Configuration: defaults < TOML file < environment < command-line flags, frozen once built.

One immutable object travels from the CLI to the spiders, pipeline, feeds and scheduler, so a
run can never see two different settings.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from aaltowatch.errors import ConfigError

ENV_PREFIX = "AALTOWATCH_"


@dataclass(frozen=True)
class HealthThresholds:
    """When a run counts as unhealthy (exit code 3)."""

    min_items: int = 1  # fewer pages than this from a spider = zero-items alert
    max_error_rate: float = 0.2  # failed requests / requests
    min_field_coverage: float = 0.8  # share of pages whose required fields came from selectors
    max_missing_share: float = 0.5  # share of known live pages gone at once = mass disappearance
    min_known_for_missing_check: int = 4


@dataclass(frozen=True)
class Schedule:
    """Cron expressions (crontab syntax) for the long-running scheduler."""

    news: str = "*/30 * * * *"
    partnerships: str = "15 6 * * *"
    misfire_grace_s: int = 300
    crawl_timeout_s: int = 3600
    # Seconds a running crawl may take to finish after SIGTERM/SIGINT before it is signalled.
    stop_grace_s: float = 30.0
    # > 0 replaces the cron expression with a fixed interval in seconds (tests, demos).
    news_interval_s: float = 0.0
    partnerships_interval_s: float = 0.0


@dataclass(frozen=True)
class Config:
    db: Path = Path("data/aaltowatch.db")
    base_url: str = "https://www.aalto.fi"
    feeds_dir: Path = Path("data/feeds")
    user_agent: str = "aaltowatch/0.1 (+https://github.com/aaltowatch/aaltowatch; news monitor)"
    # Politeness: robots.txt Crawl-delay is honoured up to this cap (seconds).
    crawl_delay_cap: float = 10.0
    download_delay: float = 1.0
    concurrent_requests_per_domain: int = 2
    autothrottle: bool = True
    retry_times: int = 3
    download_timeout: float = 30.0
    max_page_bytes: int = 10 * 1024 * 1024
    max_listing_pages: int = 0  # 0 = follow the pager to the end
    # Skip a request when the sitemap lastmod did not move and the page was fetched less than
    # this many hours ago. 0 = always revalidate (a conditional GET): the site has been seen
    # changing a page's body without moving its lastmod.
    lastmod_skip_max_age_h: float = 0.0
    revisit_known: bool = True
    # Crawl planner (aaltowatch/planner.py). Requests one spider's run may make; 0 = derived
    # from the news schedule interval and the politeness delay, so a run ends well inside it.
    max_requests_per_run: int = 0
    # adaptive: revalidate the pages likely to have changed (and overdue ones); round_robin:
    # the least recently checked pages; all: every known page every run (no budget).
    revisit_policy: str = "adaptive"
    # Every live page is revalidated at least this often (silent edits, removals).
    revisit_max_days: float = 6.0
    # News younger than 30 days (edited far more often) at least this often.
    revisit_recent_max_hours: float = 5.0
    # adaptive: a revalidation is worth a request when importance x P(changed) reaches this.
    revisit_min_value: float = 0.1
    feed_max_entries: int = 50
    lock_file: Path | None = None
    metrics_file: Path | None = None
    log_level: str = "INFO"
    health: HealthThresholds = field(default_factory=HealthThresholds)
    schedule: Schedule = field(default_factory=Schedule)

    @property
    def is_local(self) -> bool:
        """True when crawling a mirror on this machine (tests, demo): politeness delays drop."""
        from urllib.parse import urlsplit

        return (urlsplit(self.base_url).hostname or "") in ("127.0.0.1", "localhost", "::1")

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


def _apply(obj: Any, values: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(obj)}
    hints = typing.get_type_hints(type(obj))
    changes: dict[str, Any] = {}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in known:
            raise ConfigError(f"{where}: unknown setting {key!r}")
        current = getattr(obj, name)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: [{name}] must be a table")
            changes[name] = _apply(current, value, f"{where} [{name}]")
        else:
            changes[name] = _coerce(value, hints[name], name)
    return dataclasses.replace(obj, **changes)


def load_config(
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Config:
    """Build the frozen config from defaults, the TOML file, AALTOWATCH_* variables and flags."""
    env = os.environ if environ is None else environ
    cfg = Config()
    path = config_file or (
        Path(env[f"{ENV_PREFIX}CONFIG"]) if env.get(f"{ENV_PREFIX}CONFIG") else None
    )
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {path}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        cfg = _apply(cfg, data.get("aaltowatch", data), str(path))
    from_env = {
        f.name: env[ENV_PREFIX + f.name.upper()]
        for f in fields(cfg)
        if not dataclasses.is_dataclass(getattr(cfg, f.name)) and ENV_PREFIX + f.name.upper() in env
    }
    cfg = _apply(cfg, from_env, "environment")
    cfg = _apply(cfg, {k: v for k, v in (overrides or {}).items() if v is not None}, "option")
    _check_base_url(cfg.base_url)
    _check_planner(cfg)
    return cfg


def _check_planner(cfg: Config) -> None:
    from aaltowatch.planner import RevisitPolicy

    if cfg.revisit_policy not in {p.value for p in RevisitPolicy}:
        choices = ", ".join(p.value for p in RevisitPolicy)
        raise ConfigError(f"revisit_policy {cfg.revisit_policy!r} must be one of {choices}")
    if cfg.max_requests_per_run < 0 or cfg.revisit_max_days <= 0:
        raise ConfigError("max_requests_per_run must be >= 0 and revisit_max_days > 0")


def _check_base_url(url: str) -> None:
    """The site's origin: pages are fetched at the same paths as on www.aalto.fi."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
        raise ConfigError(
            f"base_url {url!r} must be an origin like https://www.aalto.fi or http://127.0.0.1:8123"
        )
