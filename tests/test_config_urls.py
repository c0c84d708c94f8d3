"""Config layering (defaults < TOML < env < flags) and URL identity."""

from __future__ import annotations

from pathlib import Path

import pytest

from aaltowatch.core.config import load_config
from aaltowatch.core.errors import ConfigError
from aaltowatch.core.urls import OffSiteURL, canonical_url, content_kind, to_fetch_url


def test_layers_in_order(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text(
        "[aaltowatch]\nfeed_max_entries = 7\ndownload_delay = 3\n"
        "[aaltowatch.health]\nmax_error_rate = 0.5\n",
        encoding="utf-8",
    )
    env = {"AALTOWATCH_DOWNLOAD_DELAY": "2", "AALTOWATCH_AUTOTHROTTLE": "false"}
    config = load_config(toml, {"db": "x.db"}, environ=env)
    assert config.feed_max_entries == 7
    assert config.download_delay == 2.0
    assert config.autothrottle is False
    assert config.health.max_error_rate == 0.5
    assert config.db == Path("x.db")
    assert load_config(toml, {"download_delay": 0.5}, environ=env).download_delay == 0.5


@pytest.mark.parametrize(
    "content",
    ["[aaltowatch]\nno_such_setting = 1\n", "[aaltowatch]\nretry_times = 'many'\n", "not toml ["],
)
def test_bad_config_is_a_clear_usage_error(tmp_path: Path, content: str) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(toml, environ={})


def test_missing_config_file() -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(Path("/nonexistent/aaltowatch.toml"), environ={})


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (
            "http://aalto.fi/en/news/a/?utm_source=x&b=2&a=1#top",
            "https://www.aalto.fi/en/news/a?a=1&b=2",
        ),
        ("https://www.aalto.fi/en/news/a?fbclid=1&gclid=2", "https://www.aalto.fi/en/news/a"),
        ("http://127.0.0.1:8123/fi/uutiset/b", "https://www.aalto.fi/fi/uutiset/b"),
        ("https://acre.aalto.fi/x#y", "https://acre.aalto.fi/x"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url, "http://127.0.0.1:8123") == canonical


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://www.aalto.fi/en/news/some-story", ("news", "en")),
        ("https://www.aalto.fi/sv/nyheter/en-nyhet", ("news", "sv")),
        ("https://www.aalto.fi/fi/yhteistyo/kaupunki", ("partnership", "fi")),
        ("https://www.aalto.fi/en/news", None),
        ("https://www.aalto.fi/en/news?page=2", None),
        ("https://www.aalto.fi/en/news/feed", None),
        ("https://www.aalto.fi/en/people/someone", None),
        ("https://www.aalto.fi/fi/news/mixed-language", None),
    ],
)
def test_content_kind_is_decided_by_url(url: str, kind: tuple | None) -> None:
    assert content_kind(url) == kind


def test_fetch_url_maps_public_origin_to_base() -> None:
    base = "http://127.0.0.1:9000"
    assert to_fetch_url("https://www.aalto.fi/en/news?page=1", base) == base + "/en/news?page=1"
    for off_site in ("https://example.org/x", "file://localhost/etc/passwd", "http://127.0.0.2/"):
        with pytest.raises(OffSiteURL):
            to_fetch_url(off_site, base)


def test_booleans_must_be_booleans() -> None:
    assert load_config(environ={"AALTOWATCH_AUTOTHROTTLE": "off"}).autothrottle is False
    with pytest.raises(ConfigError, match="autothrottle"):
        load_config(environ={"AALTOWATCH_AUTOTHROTTLE": "maybe"})
