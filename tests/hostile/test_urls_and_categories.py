"""Hostile values inside the site: control and bidi characters in rel=canonical, and a teaser
with hundreds of categories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import feedparser
import pytest

from aaltowatch.core.boundary import Boundary
from aaltowatch.core.urls import canonical_url, content_kind
from tests.conftest import CLI, cli_env
from tests.faultserver import Fault, Page, site_pages
from tests.hostile.conftest import has_unsafe, hostile_run
from tests.hostile.server import HostileServer, article, rss

FIRST, SECOND = "/en/news/first-story", "/en/news/second-story"


def test_boundary_checks_scheme_host_and_port() -> None:
    boundary = Boundary.for_site("http://127.0.0.1:8123", ["mirror.example.org"])
    for url in (
        "https://www.aalto.fi/en/news/x",
        "http://aalto.fi/en/news",
        "http://127.0.0.1:8123/robots.txt",
        "https://mirror.example.org/en/news",
    ):
        assert boundary.allows(url), url
    for url in (
        "http://127.0.0.1:8124/",  # another port of the same host
        "https://127.0.0.1:8123/",  # another scheme
        "http://127.0.0.2:8123/",
        "http://www.aalto.fi@127.0.0.2:8123/",
        "https://www.aalto.fi:8443/",
        "file://localhost/etc/passwd",
        "file:///dev/zero",
        "data:,x",
        "ftp://www.aalto.fi/",
        "http://[::1/",  # unparsable
    ):
        assert not boundary.allows(url), url


def test_content_kind_refuses_offsite_urls_with_our_paths() -> None:
    assert content_kind("https://www.aalto.fi/fi/yhteistyo/kumppani") == ("partnership", "fi")
    assert content_kind("https://partner.example/fi/yhteistyo/kumppani") is None
    assert content_kind("file:///en/news/x") is None


def test_canonical_url_strips_control_and_bidi_characters() -> None:
    url = canonical_url("https://www.aalto.fi/en/news/a\x1b]0;pwned\x07b\u202ec\u2066")
    assert url == "https://www.aalto.fi/en/news/a]0;pwnedbc"
    assert not has_unsafe(url)


def test_control_characters_in_canonical_never_reach_keys_feeds_or_terminals(
    tmp_path: Path,
) -> None:
    """Escape sequences and bidi overrides in rel=canonical: the fetched URL is the key."""
    pages = site_pages()
    escape_seq = "\x1b]0;pwned\x07\x1b[2J"
    pages[FIRST] = Page(
        Fault.ok(article(FIRST, "First", canonical=f"https://www.aalto.fi{FIRST}{escape_seq}"))
    )
    pages[SECOND] = Page(
        Fault.ok(article(SECOND, "Second", canonical="https://www.aalto.fi/en/news/\u202eevil"))
    )
    with HostileServer(pages) as srv:
        run = hostile_run(tmp_path, srv.url)
    urls = [p["url"] for p in run.export()]
    assert f"https://www.aalto.fi{FIRST}" in urls and f"https://www.aalto.fi{SECOND}" in urls
    assert not any(has_unsafe(u) for u in urls), urls
    env = cli_env()
    for args in (["changes"], ["changes", "--json"], ["export", "--format", "csv"], ["feeds"]):
        proc = subprocess.run(
            [*CLI, "--db", str(run.db), "--feeds-dir", str(run.feeds), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        assert "\x1b" not in proc.stdout and "\u202e" not in proc.stdout, args
    assert not has_unsafe(run.feed_text())


def test_many_categories_are_capped_and_stale_category_feeds_deleted(tmp_path: Path) -> None:
    categories = [f"Category {n}" for n in range(300)]
    pages = site_pages()
    pages["/en/news/feed"] = Page(
        Fault.ok(
            rss([(f"https://www.aalto.fi{FIRST}", "First", categories)]), "application/rss+xml"
        )
    )
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    for stale in ("category-gone.xml", "category-gone.atom"):
        (feeds / stale).write_text("<rss/>", encoding="utf-8")
    with HostileServer(pages) as srv:
        run = hostile_run(
            tmp_path,
            srv.url,
            AALTOWATCH_MAX_CATEGORIES_PER_ITEM="5",
            AALTOWATCH_MAX_CATEGORY_FEEDS="3",
        )
    first = next(p for p in run.export() if p["url"].endswith(FIRST))
    assert 0 < len(first["categories"]) <= 5
    category_files = sorted(p.name for p in feeds.glob("category-*"))
    assert len(category_files) <= 6 and "category-gone.xml" not in category_files
    for name in category_files:
        assert feedparser.parse(str(feeds / name)).bozo == 0


def test_allowed_hosts_from_toml_and_environment(tmp_path: Path) -> None:
    from aaltowatch.core.config import load_config
    from aaltowatch.core.errors import ConfigError

    toml = tmp_path / "c.toml"
    toml.write_text('allowed_hosts = ["mirror.example.org", "10.1.2.3:8080"]\n', encoding="utf-8")
    boundary = Boundary.from_config(load_config(toml, environ={}))
    assert boundary.allows("https://mirror.example.org/en/news")
    assert boundary.allows("http://10.1.2.3:8080/en/news")
    assert not boundary.allows("http://10.1.2.3/en/news")
    env = {"AALTOWATCH_ALLOWED_HOSTS": "a.example, b.example:81"}
    assert load_config(environ=env).allowed_hosts == ("a.example", "b.example:81")
    with pytest.raises(ConfigError, match="allowed_hosts"):
        load_config(environ={"AALTOWATCH_ALLOWED_HOSTS": "bad:port:x"})
