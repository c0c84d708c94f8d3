"""`aaltowatch demo` writes a feed per bundled watch holding exactly the events its query
matches, checked against the snapshot's ground truth (expected.json) with the query evaluated
here in plain Python, independently of SQLite FTS5: a page for new, removed and moved events,
the words an edit changed for modified ones. Every entry shows its match, highlighted."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import feedparser
import pytest
from lxml import etree

from aaltowatch.core.watchconfig import Watch
from aaltowatch.watches import demo_watches
from tests.conftest import CLI, cli_env

# The demo's queries are column-filtered alternatives: `{title lead}: (A OR B)` or `{title}: A`.
QUERY_SHAPE = re.compile(r"^\{(?P<columns>[a-z ]+)\}:\s*\(?(?P<words>[^()]+?)\)?$")


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("demo")
    proc = subprocess.run(
        [*CLI, "demo"], cwd=cwd, capture_output=True, text=True, timeout=240, env=cli_env()
    )
    assert proc.returncode == 0, proc.stderr
    return cwd / "data" / "demo" / "feeds"


def _tokens(text: str | None) -> set[str]:
    """Words as FTS5's unicode61 tokenizer with remove_diacritics sees them."""
    decomposed = unicodedata.normalize("NFKD", (text or "").casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return set(re.findall(r"\w+", plain))


def _matcher(watch: Watch) -> Any:
    shape = QUERY_SHAPE.match(watch.query)
    assert shape, f"the test understands `{{cols}}: (A OR B)` queries, not {watch.query!r}"
    columns = shape["columns"].split()
    words = [w for w in shape["words"].split() if w != "OR"]
    wanted = {next(iter(_tokens(w))) for w in words}

    def matches(*pages: dict[str, Any]) -> bool:
        """The page matches; for an edit (old, new), the words it changed do."""
        if len(pages) == 1:
            return any(wanted & _tokens(pages[0].get(column)) for column in columns)
        return any(wanted & _changed_tokens(*(p.get(column) for p in pages)) for column in columns)

    return matches


def _changed_tokens(old: str | None, new: str | None) -> set[str]:
    a, b = (old or "").split(), (new or "").split()
    changed = set()
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            changed |= _tokens(" ".join(a[i1:i2] + b[j1:j2]))
    return changed


def _expected_events(watch: Watch, expected: dict[str, Any]) -> set[tuple[str, str]]:
    """(change, url) of the day-1 and day-2 events the watch should hold."""
    day1 = {p["url"]: p for p in expected["state-1"]["pages"]}
    day2 = {p["url"]: p for p in expected["state-2"]["pages"]}
    delta = expected["changes_1_to_2"]
    flagged = {f["url"] for f in delta["flagged"]}
    matches = _matcher(watch)

    def duplicate(url: str) -> bool:
        return bool((day2.get(url) or day1[url])["duplicate_of"])

    candidates: list[tuple[str, str, list[dict[str, Any]]]] = []
    candidates += [("new", url, [page]) for url, page in day1.items()]
    candidates += [("new", url, [day2[url]]) for url in delta["new"]]
    candidates += [
        ("modified", m["url"], [day1[m["url"]], day2[m["url"]]])  # an edit away counts too
        for m in delta["modified"]
        if m["url"] not in flagged
    ]
    candidates += [("removed", url, [day1[url]]) for url in delta["removed"]]
    candidates += [("moved", m["to"], [day2[m["to"]]]) for m in delta["moved"]]
    events = set()
    for change, url, pages in candidates:
        page = pages[-1]
        if duplicate(url) and change == "new":
            continue
        if watch.changes and change not in watch.changes:
            continue
        if watch.kinds and page["kind"] not in watch.kinds:
            continue
        if watch.langs and page["lang"] not in watch.langs:
            continue
        if watch.categories and not set(watch.categories) & set(page["categories"]):
            continue
        if matches(*(pages[-1:] if watch.match == "page" else pages)):
            events.add((change, url))
    return events


def test_demo_ships_two_watches() -> None:
    assert len(demo_watches()) == 2


@pytest.mark.parametrize("watch", demo_watches(), ids=lambda w: w.name)
def test_demo_watch_feed_holds_exactly_the_matching_events(
    demo_dir: Path, expected: dict[str, Any], watch: Watch
) -> None:
    events = _expected_events(watch, expected)
    assert events, "a demo watch should match something on the snapshot"
    day2 = {(c, u) for c, u in events if c != "new" or u in expected["changes_1_to_2"]["new"]}
    assert day2, "and something on day 2"
    rss = feedparser.parse((demo_dir / f"watch-{watch.name}.xml").read_bytes())
    atom = feedparser.parse((demo_dir / f"watch-{watch.name}.atom").read_bytes())
    assert rss.bozo == 0 and atom.bozo == 0
    got = [(e.tags[0].term, e.link) for e in rss.entries]
    assert len(got) == len(set(got))  # each event once
    assert set(got) == events
    assert [e.id for e in atom.entries] == [e.id for e in rss.entries]
    for entry in rss.entries:  # why it matched: the snippet, its match highlighted
        assert re.search(r"<p>Match: .*<strong>[^<]+</strong>", entry.summary), entry.summary
    raw = (demo_dir / f"watch-{watch.name}.xml").read_text(encoding="utf-8")
    assert raw.count("&lt;mark&gt;&lt;strong&gt;") >= len(rss.entries)  # <mark> for browsers

    # The same entries as the change feed (sanitised content and diff, led by the match), each
    # feed's own id (readers keep one article per id across feeds).
    def item(entry: Any, feed: str) -> str:
        prefix = f"tag:www.aalto.fi,2026:feed/{feed}/"
        assert entry.id.startswith(prefix + "change/")
        return entry.id.removeprefix(prefix)

    all_changes = feedparser.parse((demo_dir / "changes.xml").read_bytes()).entries
    changes = {item(e, "changes"): e for e in all_changes}
    shared = [e for e in rss.entries if item(e, f"watch-{watch.name}") in changes]
    assert shared
    for entry in shared:
        same = changes[item(entry, f"watch-{watch.name}")]
        assert entry.title == same.title and entry.summary.endswith(same.summary)

    opml = etree.fromstring((demo_dir / "feeds.opml").read_bytes())
    feed_url = (demo_dir / f"watch-{watch.name}.xml").resolve().as_uri()
    assert opml.xpath(f"//outline[@xmlUrl='{feed_url}']")
    index = (demo_dir / "index.html").read_text(encoding="utf-8")
    assert f'href="watch-{watch.name}.xml"' in index
    assert f'href="watch-{watch.name}.atom"' in index
