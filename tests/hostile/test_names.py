"""Feed file names made from the site's category names: bounded, unique, and stable once given.

A 320-character category used to stop every output after it (Errno 36, file name too long); a
`RESEARCH` arriving after `Research` used to take over `category-research.xml`.
"""

from __future__ import annotations

import re
from pathlib import Path

import feedparser
from sqlite_utils import Database

from feeds.build import build_feeds
from storage import Archive, migrations

NOW = "2026-01-20T16:00:00Z"
MAX_STEM = len("category-") + 60 + len("-99")  # the slug is cut to 60 characters
OUTPUTS = ("health.xml", "health.atom", "feeds.opml", "index.html", "dashboard.html")
# A category feed's title names the languages of its pages after the category: "X (English)".
IN_LANGUAGES = re.compile(r" \((?:English|Finnish|Swedish)(?:, (?:English|Finnish|Swedish))*\)$")


def _story(archive: Archive, slug: str, categories: list[str]) -> None:
    """A live news page whose current version carries `categories`."""
    url = f"https://www.aalto.fi/en/news/{slug}"
    with archive.transaction():
        page_id = archive.pages.insert_page(
            {"url": url, "kind": "news", "lang": "en", "first_seen": NOW, "last_seen": NOW,
             "last_changed": NOW, "version_count": 1, "current_version": 1}
        )  # fmt: skip
        archive.pages.add_version(
            {"page_id": page_id, "version": 1, "url": url, "fetched_at": NOW,
             "content_hash": url, "title": f"Story {slug}", "categories": categories}
        )  # fmt: skip


def _titles(feeds: Path) -> dict[str, str]:
    """category feed file -> the category its title names."""
    return {
        path.name: IN_LANGUAGES.sub(
            "", feedparser.parse(path.read_bytes()).feed.title.removeprefix("Aalto University: ")
        )
        for path in sorted(feeds.glob("category-*.xml"))
    }


def test_a_very_long_category_gets_a_bounded_name_and_every_output_is_written(
    tmp_path: Path,
) -> None:
    long = "Research " + "x" * 320
    feeds = tmp_path / "feeds"
    with Archive(tmp_path / "a.db") as archive:
        _story(archive, "one", [long, "Research"])
        build_feeds(archive, feeds)
    for name in OUTPUTS:
        assert (feeds / name).is_file(), name
    titles = _titles(feeds)
    assert sorted(titles.values()) == sorted([long, "Research"])
    assert max(len(name) for name in titles) <= MAX_STEM + len(".xml")
    opml = (feeds / "feeds.opml").read_text(encoding="utf-8")
    assert all(name in opml for name in titles)


def test_a_case_variant_arriving_later_never_takes_over_an_existing_feed(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds"
    with Archive(tmp_path / "a.db") as archive:
        _story(archive, "one", ["Research"])
        build_feeds(archive, feeds)
        assert _titles(feeds) == {"category-research.xml": "Research"}
        _story(archive, "two", ["RESEARCH"])  # sorts before "Research"
        _story(archive, "three", ["research!"])
        build_feeds(archive, feeds)
    titles = _titles(feeds)
    assert titles["category-research.xml"] == "Research"
    assert sorted(titles.values()) == ["RESEARCH", "Research", "research!"]
    assert len(set(titles)) == 3


def test_names_survive_a_category_that_leaves_and_comes_back(tmp_path: Path) -> None:
    """A category out of the top `max_categories` (its file deleted) keeps its name for later."""
    feeds = tmp_path / "feeds"
    with Archive(tmp_path / "a.db") as archive:
        _story(archive, "one", ["Art"])
        build_feeds(archive, feeds, max_categories=1)
        _story(archive, "two", ["ART", "Design"])
        _story(archive, "three", ["ART", "Design"])
        build_feeds(archive, feeds, max_categories=1)  # only "ART" or "Design" now
        assert "category-art.xml" not in _titles(feeds)
        build_feeds(archive, feeds, max_categories=3)
    assert _titles(feeds)["category-art.xml"] == "Art"


def test_an_upgraded_archive_keeps_the_names_it_published(tmp_path: Path) -> None:
    """An archive from before kept names: the first build gives the names builds gave before."""
    path = tmp_path / "old.db"
    db = Database(path)
    migrations.migrations.apply(db, stop_before="0009_feed_names")
    db.close()
    with Archive(path) as archive:  # upgrades
        for n, category in enumerate(["Research", "RESEARCH", "Media & Art", "東京"]):
            _story(archive, str(n), [category])
        build_feeds(archive, tmp_path / "feeds")
    assert _titles(tmp_path / "feeds") == {
        "category-media-and-art.xml": "Media & Art",
        "category-research.xml": "RESEARCH",  # sorted first, as the builds before did it
        "category-research-2.xml": "Research",
        "category-681ee30000.xml": "東京",
    }


def test_choose_name_is_bounded_and_skips_taken_names() -> None:
    from feeds.names import MAX_SLUG, choose_name, new_names

    taken = {"category-research", "category-research-2"}
    assert choose_name("category", "Research", taken) == "category-research-3"
    assert choose_name("category", "-" * 500, set()).startswith("category-")
    long = choose_name("category", "a " * 400, set())
    assert len(long) <= len("category-") + MAX_SLUG and not long.endswith("-")
    names = new_names("category", ["A" * 300 + str(n) for n in range(5)], set())
    assert len(set(names.values())) == 5


def test_a_read_only_archive_gets_the_kept_names_and_keeps_nothing(tmp_path: Path) -> None:
    with Archive(tmp_path / "a.db") as archive:
        _story(archive, "one", ["Research"])
        build_feeds(archive, tmp_path / "feeds")
        _story(archive, "two", ["RESEARCH"])
    with Archive(tmp_path / "a.db", readonly=True) as archive:
        build_feeds(archive, tmp_path / "again")
        kept = archive.conn.execute("SELECT label, name FROM feed_names").fetchall()
    assert _titles(tmp_path / "again") == {
        "category-research.xml": "Research",
        "category-research-2.xml": "RESEARCH",
    }
    assert [tuple(row) for row in kept] == [("Research", "category-research")]


def test_an_archive_that_refuses_writes_still_gets_its_feeds(tmp_path: Path) -> None:
    with Archive(tmp_path / "a.db") as archive:
        _story(archive, "one", ["Research"])
        build_feeds(archive, tmp_path / "feeds")
        _story(archive, "two", ["RESEARCH"])
        archive.conn.execute("PRAGMA query_only = ON")  # as a full disk would answer
        build_feeds(archive, tmp_path / "feeds")
    assert _titles(tmp_path / "feeds") == {
        "category-research.xml": "Research",
        "category-research-2.xml": "RESEARCH",
    }
    assert (tmp_path / "feeds" / "health.xml").is_file()
