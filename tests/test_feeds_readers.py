"""Real consumers: newsboat (a feed reader) and headless Chromium (the index page).

Both are Debian packages that CI installs; without them the tests skip with the install hint.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest

from feeds.build import build_feeds
from feeds.serve import FeedServer
from storage import Archive


@pytest.fixture
def served(two_state_copy: Path, tmp_path: Path) -> Iterator[tuple[FeedServer, Path]]:
    out = tmp_path / "feeds"
    with Archive(two_state_copy) as archive:
        build_feeds(archive, out, max_entries=50)
    with FeedServer(out, port=0) as server:
        yield server, out


@pytest.mark.reader
@pytest.mark.skipif(
    shutil.which("newsboat") is None, reason="newsboat not installed: apt-get install newsboat"
)
def test_newsboat_reads_the_feeds(served: tuple[FeedServer, Path], tmp_path: Path) -> None:
    server, out = served
    names = ["news-en.xml", "changes.atom", "partnerships.xml"]
    # newsboat keys articles by guid: a change in both changes and partnerships counts once.
    expected = len({e.id for n in names for e in feedparser.parse(out / n).entries})
    home = tmp_path / "home"
    home.mkdir()
    urls = tmp_path / "urls"
    urls.write_text("".join(f"{server.url}{n}\n" for n in names), encoding="utf-8")
    config = tmp_path / "config"
    config.write_text("", encoding="utf-8")
    proc = subprocess.run(
        ["newsboat", "-u", str(urls), "-c", str(tmp_path / "cache.db"), "-C", str(config),
         "-x", "reload", "-x", "print-unread"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "HOME": str(home), "LANG": "C.UTF-8", "XDG_CONFIG_HOME": str(home),
             "XDG_DATA_HOME": str(home)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    match = re.search(r"(\d+) unread articles?", proc.stdout)
    assert match, proc.stdout + proc.stderr
    assert int(match.group(1)) == expected > 0


def _newsboat(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """newsboat with its own home, url file, cache and config under tmp_path."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (tmp_path / "config").touch()
    return subprocess.run(
        ["newsboat", "-u", str(tmp_path / "urls"), "-c", str(tmp_path / "cache.db"),
         "-C", str(tmp_path / "config"), *args],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "HOME": str(home), "LANG": "C.UTF-8", "XDG_CONFIG_HOME": str(home),
             "XDG_DATA_HOME": str(home)},
    )  # fmt: skip


@pytest.mark.reader
@pytest.mark.skipif(
    shutil.which("newsboat") is None, reason="newsboat not installed: apt-get install newsboat"
)
@pytest.mark.parametrize("how", ["file", "served"])
def test_newsboat_imports_the_opml_and_reads_every_feed(
    served: tuple[FeedServer, Path], tmp_path: Path, how: str
) -> None:
    """index.html tells staff to import feeds.opml: as a file next to the feeds, or downloaded
    from `serve`, every feed it lists must then load (relative xmlUrls load nothing)."""
    server, out = served
    opml = out / "feeds.opml"
    if how == "served":
        opml = tmp_path / "downloaded.opml"
        with urllib.request.urlopen(server.url + "feeds.opml", timeout=10) as response:
            opml.write_bytes(response.read())
    (tmp_path / "urls").touch()
    imported = _newsboat(tmp_path, "-i", str(opml))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    urls = (tmp_path / "urls").read_text(encoding="utf-8").split()
    assert len(urls) == len(list(out.glob("*.xml")))
    assert all(u.startswith("file://" if how == "file" else server.url) for u in urls), urls
    expected = len({e.id for f in out.glob("*.xml") for e in feedparser.parse(f).entries})
    proc = _newsboat(tmp_path, "-x", "reload", "-x", "print-unread")
    assert proc.returncode == 0, proc.stderr
    match = re.search(r"(\d+) unread articles?", proc.stdout)
    assert match, proc.stdout + proc.stderr
    assert int(match.group(1)) == expected > 0


@pytest.mark.browser
@pytest.mark.skipif(
    shutil.which("chromium") is None, reason="chromium not installed: apt-get install chromium"
)
def test_chromium_renders_index(served: tuple[FeedServer, Path], tmp_path: Path) -> None:
    server, _ = served
    proc = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
         "--v=0", "--dump-dom", server.url],
        capture_output=True, text=True, timeout=90,
        env={**os.environ, "HOME": str(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert 'id="feed-list"' in dom
    for name in ("news-en", "news-fi", "news-sv", "changes", "partnerships", "health"):
        assert f'href="{name}.xml"' in dom and f'href="{name}.atom"' in dom
    assert "<ins>" in dom and "<del>" in dom
    assert "https://www.aalto.fi/en/news/" in dom
    console = [
        line for line in proc.stderr.splitlines()
        if "CONSOLE" in line or "Uncaught" in line or "Refused to" in line
    ]  # fmt: skip
    assert console == []
