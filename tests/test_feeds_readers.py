"""Real consumers: newsboat (a feed reader) and headless Chromium (the index page).

Both are Debian packages that CI installs; without them the tests skip with the install hint.
"""

from __future__ import annotations

import fcntl
import html as html_lib
import json
import os
import re
import select
import shutil
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import feedparser
import pytest

from aaltowatch.watches import demo_watches, match_watches
from feeds.build import build_feeds, feed_specs
from feeds.entries import FeedSpec
from feeds.render import render
from feeds.search import SearchFeeds
from feeds.serve import FeedServer
from storage import Archive

NEWSBOAT = pytest.mark.skipif(
    shutil.which("newsboat") is None, reason="newsboat not installed: apt-get install newsboat"
)
CHROMIUM = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="chromium not installed: apt-get install chromium"
)
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip


@pytest.fixture
def served(two_state_copy: Path, tmp_path: Path) -> Iterator[tuple[FeedServer, Path]]:
    """The feeds of the two-state archive with the demo's watches (whose entries are also in
    the change feeds), served on 127.0.0.1."""
    out = tmp_path / "feeds"
    with Archive(two_state_copy) as archive:
        match_watches(archive, demo_watches())  # as every run does before its feeds
        build_feeds(archive, out, max_entries=50, watches=demo_watches())
    with FeedServer(out, port=0, search=SearchFeeds(two_state_copy, 50)) as server:
        yield server, out


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


def _reload(tmp_path: Path) -> dict[str, int]:
    """Reload every feed of the url file; articles per feed URL as newsboat's cache keeps them."""
    proc = _newsboat(tmp_path, "-x", "reload", "-x", "print-unread")
    assert proc.returncode == 0, proc.stderr
    with closing(sqlite3.connect(tmp_path / "cache.db")) as cache:
        counts = dict(cache.execute("SELECT feedurl, COUNT(*) FROM rss_item GROUP BY feedurl"))
    match = re.search(r"(\d+) unread articles?", proc.stdout)
    assert match, proc.stdout + proc.stderr
    assert int(match.group(1)) == sum(counts.values())
    return counts


@pytest.mark.reader
@NEWSBOAT
def test_newsboat_shows_every_entry_of_every_feed(
    served: tuple[FeedServer, Path], tmp_path: Path
) -> None:
    """newsboat keeps one article per guid across all feeds: a change in both the change feed
    and a watch feed, or a story in news-en and a category, must still show in each."""
    server, out = served
    names = ["news-en.xml", "changes.atom", "partnerships.xml", "watch-helsinki-vantaa.xml"]
    names += [p.name for p in sorted(out.glob("category-*.xml"))]
    (tmp_path / "urls").write_text("".join(f"{server.url}{n}\n" for n in names), encoding="utf-8")
    expected = {server.url + n: len(feedparser.parse(out / n).entries) for n in names}
    assert all(expected.values())
    assert _reload(tmp_path) == expected


@pytest.mark.reader
@NEWSBOAT
@pytest.mark.parametrize("how", ["file", "served"])
def test_newsboat_imports_the_opml_and_reads_every_feed(
    served: tuple[FeedServer, Path], tmp_path: Path, how: str
) -> None:
    """index.html tells staff to import feeds.opml: as a file next to the feeds, or downloaded
    from `serve`, every feed it lists must then load (relative xmlUrls load nothing) with every
    one of its entries, filed under its outline (newsboat: a tag)."""
    server, out = served
    opml = out / "feeds.opml"
    if how == "served":
        opml = tmp_path / "downloaded.opml"
        with urllib.request.urlopen(server.url + "feeds.opml", timeout=10) as response:
            opml.write_bytes(response.read())
    (tmp_path / "urls").touch()
    imported = _newsboat(tmp_path, "-i", str(opml))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    lines = (tmp_path / "urls").read_text(encoding="utf-8").splitlines()
    tags = {line.split()[0]: line.split(" ", 1)[1] for line in lines}
    assert len(tags) == len(list(out.glob("*.xml")))
    base = out.resolve().as_uri() + "/" if how == "file" else server.url
    assert all(u.startswith(base) for u in tags), tags
    assert tags[base + "news-fi.xml"] == '"News"'
    assert tags[base + "watch-helsinki-vantaa.xml"] == '"Watches"'
    categories = {t for u, t in tags.items() if u.startswith(base + "category-")}
    assert categories == {'"Categories (English)"', '"Categories (Finnish)"',
                          '"Categories (Swedish)"'}  # fmt: skip
    expected = {u: len(feedparser.parse(out / u.removeprefix(base)).entries) for u in tags}
    counts = _reload(tmp_path)
    assert {u: counts.get(u, 0) for u in tags} == expected
    assert sum(expected.values()) > len({e.link for f in out.glob("*.xml")
                                         for e in feedparser.parse(f).entries})  # fmt: skip


@pytest.mark.reader
@NEWSBOAT
def test_newsboat_subscribes_to_search_urls(
    served: tuple[FeedServer, Path], tmp_path: Path
) -> None:
    """An ad-hoc search, subscribed to by URL (no config): every entry shows, titled by the
    query, with ids of its own (the same changes are in `changes.xml` too), each article led
    by the words it matched."""
    server, _ = served
    urls = [
        f"{server.url}search.xml?q=Helsinki+OR+Vantaa&lang=en",
        f"{server.url}search.atom?q=Espoo&kind=partnership",
        f"{server.url}changes.xml",
    ]
    (tmp_path / "urls").write_text("".join(f"{u}\n" for u in urls), encoding="utf-8")
    expected = {u: len(feedparser.parse(u).entries) for u in urls}
    assert all(expected.values())
    assert _reload(tmp_path) == expected
    with closing(sqlite3.connect(tmp_path / "cache.db")) as cache:
        titles = dict(cache.execute("SELECT rssurl, title FROM rss_feed"))
        contents = cache.execute(
            "SELECT feedurl, content FROM rss_item WHERE feedurl != ?", (urls[2],)
        ).fetchall()
    assert titles[urls[0]] == "aaltowatch search: Helsinki OR Vantaa (lang=en)"
    assert len(contents) == expected[urls[0]] + expected[urls[1]]
    for url, content in contents:
        words = ("helsinki", "vantaa") if url == urls[0] else ("espoo",)
        matched = re.findall(r"<strong>([^<]*)</strong></mark>", content)
        assert content.startswith("<p>Match:") and matched, content[:300]
        assert all(m.lower() in words for m in matched), matched


def _shown_diff(html: str) -> str:
    """The first word change of an entry's HTML as a reader without styling shows it:
    `<del>[-old-]</del><ins>{+new+}</ins>` -> `[-old-]{+new+}`, whitespace collapsed."""
    match = re.search(r"<del>(\[-.+?-\])</del><ins>(\{\+.+?\+\})</ins>", html)
    assert match, html
    return " ".join(html_lib.unescape(match.group(1) + match.group(2)).split())


@pytest.mark.reader
@NEWSBOAT
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed: apt-get install tmux")
def test_newsboat_shows_a_word_diff_with_its_markers(two_state_copy: Path, tmp_path: Path) -> None:
    """newsboat drops <del>/<ins> styling: old and new words ran together (`Sanna-KatriJohanna
    RautavaKivelä`). Driven in a terminal, its article view shows the markers."""
    with Archive(two_state_copy) as archive:
        specs, _ = feed_specs(archive, 50)
    changes = next(s for s in specs if s.name == "changes")
    entry = min(
        (e for e in changes.entries if "</del><ins>" in e.content), key=lambda e: len(e.content)
    )
    feed = tmp_path / "diff.xml"
    feed.write_bytes(render(FeedSpec("diff", "A diff", "One modified page", entries=[entry]))[0])
    (tmp_path / "urls").write_text(feed.as_uri() + "\n", encoding="utf-8")
    assert _newsboat(tmp_path, "-x", "reload").returncode == 0
    socket = tmp_path / "tmux.sock"
    tmux = ["tmux", "-S", str(socket)]
    env = {**os.environ, "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8", "TERM": "xterm"}
    command = f"newsboat -u {tmp_path / 'urls'} -c {tmp_path / 'cache.db'} -C {tmp_path / 'config'}"
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", "120", "-y", "60", command], env=env, check=True
    )
    try:

        def screen() -> str:
            shown = subprocess.run([*tmux, "capture-pane", "-p"], capture_output=True, text=True)
            return " ".join(shown.stdout.split())

        assert _wait_for(lambda: "A diff" in screen()), screen()
        subprocess.run([*tmux, "send-keys", "Enter"], check=True)  # the feed
        assert _wait_for(lambda: entry.title[:30] in screen()), screen()
        subprocess.run([*tmux, "send-keys", "Enter"], check=True)  # its article
        want = _shown_diff(entry.content)
        assert _wait_for(lambda: want in screen()), (want, screen())
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def _wait_for(condition: Callable[[], bool], timeout: float = 30) -> bool:
    """Poll a terminal until `condition` holds (not a timing assertion: a busy machine is slow)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def _chromium(url: str, profile: Path, *expressions: str) -> list[Any]:
    """Open `url` in headless Chromium and evaluate `expressions` on the loaded page, over the
    DevTools pipe: what a person sees (CSS applied), which --dump-dom cannot tell."""
    to_chromium, from_chromium = os.pipe(), os.pipe()
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_chromium[0], from_chromium[1])]

    def pipe_fds() -> None:  # in the child: Chromium reads fd 3 and writes fd 4
        for fd, target in zip(high, (3, 4), strict=True):
            os.dup2(fd, target)
            os.set_inheritable(target, True)

    proc = subprocess.Popen(
        ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe",
         "about:blank"],
        preexec_fn=pipe_fds, close_fds=False, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, env={**os.environ, "HOME": str(profile)},
    )  # fmt: skip
    for fd in (*high, to_chromium[0], from_chromium[1]):
        os.close(fd)
    pending, calls = b"", 0

    def call(method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        nonlocal pending, calls
        calls += 1
        message = {"id": calls, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(to_chromium[1], json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" in pending:
                raw, pending = pending.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == calls:
                    assert "error" not in reply, reply
                    return reply["result"]
            ready, _, _ = select.select([from_chromium[0]], [], [], 90)
            chunk = os.read(from_chromium[0], 1 << 16) if ready else b""
            assert chunk, f"chromium stopped answering ({method})"
            pending += chunk

    def evaluate(session: str, expression: str) -> Any:
        answer = call("Runtime.evaluate", session, expression=expression, returnByValue=True)
        return answer["result"].get("value")

    try:
        target = call("Target.createTarget", url=url)["targetId"]
        session = call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        loaded = "location.href !== 'about:blank' && document.readyState === 'complete'"
        assert _wait_for(lambda: evaluate(session, loaded))
        values = [evaluate(session, e) for e in expressions]
        call("Browser.close")
        return values
    finally:
        os.close(to_chromium[1])
        os.close(from_chromium[0])
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# The search form: its visible text, whether the query box is shown, and the URL a submission
# would open (a GET form's URL: action + the form's fields, url-encoded).
FORM = (
    "document.querySelector('#search').nextElementSibling.innerText",
    "document.querySelector('form.search input[name=q]').offsetParent !== null",
    "(() => { const f = document.querySelector('form.search');"
    " f.q.value = 'Helsinki OR Vantaa'; f.lang.value = 'en';"
    " return f.action + '?' + new URLSearchParams(new FormData(f)); })()",
)


@pytest.mark.browser
@CHROMIUM
def test_chromium_search_form_builds_a_search_feed_url(
    served: tuple[FeedServer, Path], tmp_path: Path
) -> None:
    """Served by `serve`, the index page's form (GET, no script in the page) opens a search
    feed; opened as a file, it says that it needs `aaltowatch serve` instead."""
    server, out = served
    text, shown, url = _chromium(server.url, tmp_path / "served", *FORM)
    assert shown and "opened as a file" not in text
    assert url.startswith(f"{server.url}search.xml?q=Helsinki+OR+Vantaa&")
    parsed = feedparser.parse(url)
    assert parsed.bozo == 0 and parsed.entries
    assert parsed.feed.title == "aaltowatch search: Helsinki OR Vantaa (lang=en)"
    text, shown, _ = _chromium((out / "index.html").as_uri(), tmp_path / "file", *FORM)
    assert not shown and "opened as a file" in text and "aaltowatch serve" in text


@pytest.mark.browser
@CHROMIUM
def test_chromium_renders_index(served: tuple[FeedServer, Path], tmp_path: Path) -> None:
    server, _ = served
    proc = subprocess.run(
        ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         "--enable-logging=stderr", "--v=0", "--dump-dom", server.url],
        capture_output=True, text=True, timeout=90,
        env={**os.environ, "HOME": str(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert 'id="feed-list"' in dom
    for name in ("news-en", "news-fi", "news-sv", "changes", "partnerships", "health"):
        assert f'href="{name}.xml"' in dom and f'href="{name}.atom"' in dom
    # Diffs keep <del>/<ins> for browsers, with the text markers inside.
    assert "<ins>{+" in dom and "<del>[-" in dom
    assert "https://www.aalto.fi/en/news/" in dom
    console = [
        line for line in proc.stderr.splitlines()
        if "CONSOLE" in line or "Uncaught" in line or "Refused to" in line
    ]  # fmt: skip
    assert console == []
