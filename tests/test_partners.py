"""Partner registry: naming and matching rules (tables), then the snapshot's two days."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import feedparser
import pytest

from aaltowatch.core.config import PartnerAlias
from aaltowatch.core.urls import HUB_PATHS, canonical_url
from pipeline.partners import build_partners, match_query, name_from_link, name_from_text, stem
from storage import Archive
from tests.conftest import run_cli

NAMES = [
    ("Aalto University and Espoo: toward a more sustainable future", "Espoo"),
    ("Aalto-yliopisto ja Helsinki: suuret muutokset avaavat mahdollisuuksia", "Helsinki"),
    ("Aalto-universitetet och Esbo: mot en hållbarare framtid", "Esbo"),
    ("Universities of applied sciences and Aalto University", "Universities of applied sciences"),
    ("Aalto University and the City of Vantaa – a growing city", "City of Vantaa"),
    ("aalto university and  Nokia", "Nokia"),
    ("Collaboration with cities and regions", None),
    ("Kaupunki- ja alueyhteistyö", None),
    ("Aalto University and a long list of things that is clearly a sentence", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "name"), NAMES)
def test_name_from_text(text: str, name: str | None) -> None:
    assert name_from_text(text) == name


def test_hub_link_text_pattern_first_then_short_text() -> None:
    assert name_from_link(["Aalto University and Vantaa: more", "Vantaa city"]) == "Vantaa"
    assert name_from_link(["Lahti region"]) == "Lahti region"
    assert name_from_link(["Read how we work together with the city"]) is None


STEMS = [
    ("Helsinki", "helsin"),  # gradation nk -> ng: Helsingin, Helsingissä (and Helsingfors)
    ("Espoo", "espoo"),
    ("Vantaa", "vantaa"),  # never Vanta*
    ("Esbo", "esbo"),
    ("Kauniainen", "kauniai"),
    ("Otaniemi", "otaniem"),
    ("Turku", "turku"),  # Tur* would match turvallisuus: too short, aliases cover Turun
    ("Lahti", "lahti"),
    ("Nokia", "nokia"),
    ("Helsingfors", "helsingfors"),
]


@pytest.mark.parametrize(("word", "prefix"), STEMS)
def test_stem(word: str, prefix: str) -> None:
    assert stem(word) == prefix


MENTIONS = [
    ("Helsinki", ["Helsingin kaupunki", "Helsingissä", "Helsingfors stad", "City of Helsinki"],
     ["Helmikuussa", "helsingør"[:4]]),
    ("Vantaa", ["Vantaan kaupunki", "Vantaalla", "Vantaa's"], ["vanttuut", "Vanda"]),
    ("Espoo", ["Espoon", "Espoossa", "Espoo"], ["Esbo", "espresso"]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "hits", "misses"), MENTIONS)
def test_match_query_finds_inflected_forms_only(name: str, hits: list, misses: list) -> None:
    conn = sqlite3.connect(":memory:")
    # The archive's tokenizer (storage.migrations: pages_fts).
    conn.execute(
        "CREATE VIRTUAL TABLE t USING fts5(body, tokenize='unicode61 remove_diacritics 2')"
    )
    conn.executemany("INSERT INTO t (body) VALUES (?)", [(t,) for t in hits + misses])
    query = match_query([name])
    found = {r[0] for r in conn.execute("SELECT body FROM t WHERE t MATCH ?", (query,))}
    assert found == set(hits)


def page(pid: int, url: str, lang: str, title: str, status: str = "live", **tr: str) -> dict:
    return {"id": pid, "url": url, "lang": lang, "title": title, "status": status,
            "first_seen": f"2026-01-0{pid}T00:00:00Z", "last_seen": f"2026-01-0{pid}T12:00:00Z",
            "translations": tr}  # fmt: skip


def test_build_partners_links_translations_and_skips_the_hub() -> None:
    pages = [
        page(1, "hub-en", "en", "Collaboration with cities", fi="hub-fi"),
        page(2, "hub-fi", "fi", "Kaupunkiyhteistyö", en="hub-en"),
        page(3, "t-fi", "fi", "Aalto-yliopisto ja Turku: x", en="t-en"),
        page(4, "t-en", "en", "Partnering with Turku", fi="t-fi", sv="t-sv"),
        page(5, "t-sv", "sv", "Aalto-universitetet och Åbo", status="removed"),
        page(6, "o-en", "en", "Our values"),
        page(7, "l-en", "en", "Lahti page"),
    ]
    hub_texts = {"t-en": ["Turku"], "l-en": ["Aalto University and Lahti: a region"]}
    config = [PartnerAlias(name="turku", aliases=("Turun", "Turussa"))]
    partners = build_partners(pages, hub_texts, {"hub-en"}, config)
    turku, lahti = partners
    assert (turku.id, turku.name, turku.names) == (3, "Turku", {"en": "Turku", "fi": "Turku",
                                                                 "sv": "Åbo"})  # fmt: skip
    assert [(p.lang, p.source) for p in turku.pages] == [
        ("fi", "title"), ("en", "hub_link"), ("sv", "title")
    ]  # fmt: skip
    assert turku.aliases == ["Turun", "Turussa"] and '"turun"*' in turku.match
    assert (turku.first_seen, turku.last_seen, turku.status) == (
        "2026-01-03T00:00:00Z", "2026-01-05T12:00:00Z", "active"
    )  # fmt: skip
    assert (lahti.name, lahti.status) == ("Lahti", "active")
    gone = build_partners([page(5, "t-sv", "sv", "Aalto-universitetet och Åbo", "removed")], {},
                          set())  # fmt: skip
    assert gone[0].status == "gone"
    named = build_partners(pages, {}, {"hub-en"}, [PartnerAlias("City of Turku", (), ("t-sv",))])
    assert named[0].name == "City of Turku" and {p.source for p in named[0].pages} == {"config"}


# -- the bundled snapshot, crawled on two days ---------------------------------------------


def _expected_partners(expected: dict) -> list[dict]:
    """Ground truth: partnership pages that are not the hubs (or their translations) and are
    titled after Aalto and someone, joined by their translation links."""
    first_state: dict[str, str] = {}
    pages: dict[str, dict] = {}
    for state in ("state-1", "state-2"):
        for p in expected[state]["pages"]:
            if p["kind"] == "partnership":
                pages[p["url"]] = p
                first_state.setdefault(p["url"], state)
    hubs = {canonical_url(path) for path in HUB_PATHS.values()}
    hubs |= {u for h in hubs if h in pages for u in pages[h]["translations"].values()}
    groups: list[set[str]] = []
    for url, p in pages.items():
        if url in hubs or "aalto" not in p["title"].lower():
            continue
        linked = {url, *(u for u in p["translations"].values() if u in pages)}
        for group in [g for g in groups if g & linked]:
            groups.remove(group)
            linked |= group
        groups.append(linked)
    return [
        {
            "urls": group,
            "langs": {pages[u]["lang"]: u for u in group},
            "titles": {pages[u]["lang"]: pages[u]["title"] for u in group},
            "day": min(first_state[u] for u in group),
        }
        for group in groups
    ]


def test_snapshot_partners_with_languages_and_first_seen(two_state_db: Path, expected: dict):
    want = _expected_partners(expected)
    assert want
    proc = run_cli("partners", "--json", db=two_state_db, check=True)
    got = json.loads(proc.stdout)
    with Archive(two_state_db, readonly=True) as archive:
        runs = sorted(archive.runs.latest(100), key=lambda r: r["id"])
    per_crawl = len({r["spider"] for r in runs})
    days = {"state-1": runs[:per_crawl], "state-2": runs[per_crawl : 2 * per_crawl]}
    by_urls = {frozenset(p["url"] for p in partner["pages"]): partner for partner in got}
    assert set(by_urls) == {frozenset(w["urls"]) for w in want}
    for w in want:
        partner = by_urls[frozenset(w["urls"])]
        assert {p["lang"]: p["url"] for p in partner["pages"]} == w["langs"]
        for p in partner["pages"]:
            assert p["name"] and p["name"].lower() in w["titles"][p["lang"]].lower()
        assert partner["name"].lower() in " ".join(w["titles"].values()).lower()
        day = days[w["day"]]
        assert day[0]["started_at"] <= partner["first_seen"] <= max(r["finished_at"] for r in day)
        assert partner["status"] == "active"
    news = [p for p in expected["state-2"]["pages"] if p["kind"] == "news"]
    for partner in got:
        titled = [n for n in news if partner["name"].lower() in n["title"].lower()]
        assert partner["mentions"] >= len(titled)
    assert any(partner["mentions"] for partner in got)


def test_partners_feed_tells_who_appeared(two_state_copy: Path, tmp_path: Path) -> None:
    from feeds.build import build_feeds

    with Archive(two_state_copy) as archive:
        report = build_feeds(archive, tmp_path)
        names = [r[0] for r in archive.conn.execute("SELECT name FROM partners")]
    assert tmp_path / "partners.xml" in report.written
    for suffix in ("xml", "atom"):
        feed = feedparser.parse((tmp_path / f"partners.{suffix}").read_bytes())
        assert feed.bozo == 0
        appeared = sorted(e.title for e in feed.entries if e.title.startswith("New partner: "))
        assert appeared == sorted(f"New partner: {n}" for n in names)
    feed_url = (tmp_path / "partners.xml").resolve().as_uri()
    assert f'xmlUrl="{feed_url}"' in (tmp_path / "feeds.opml").read_text()
    assert 'href="partners.xml"' in (tmp_path / "index.html").read_text()


def test_config_aliases_reach_the_match(two_state_copy: Path, tmp_path: Path) -> None:
    with Archive(two_state_copy, readonly=True) as archive:
        name, url = archive.conn.execute(
            "SELECT pa.name, p.url FROM partners pa JOIN partner_pages pp ON pp.partner_id = pa.id"
            " JOIN pages p ON p.id = pp.page_id ORDER BY pa.id LIMIT 1"
        ).fetchone()
    config = tmp_path / "aaltowatch.toml"
    config.write_text(
        f'[[aaltowatch.partner]]\nname = "{name.upper()}"\naliases = ["Zyzzyva"]\n'
        f'[[aaltowatch.partner]]\nname = "Renamed Partner"\npages = ["{url}"]\n',
        encoding="utf-8",
    )
    proc = run_cli("--config", str(config), "partners", "--refresh", "--json", db=two_state_copy)
    assert proc.returncode == 0, proc.stderr
    got = {p["name"]: p for p in json.loads(proc.stdout)}
    assert name not in got and "Renamed Partner" in got
    bad = tmp_path / "bad.toml"
    bad.write_text('[[aaltowatch.partner]]\naliases = "x"\n', encoding="utf-8")
    proc = run_cli("--config", str(bad), "partners", db=two_state_copy)
    assert proc.returncode == 2 and "aliases" in proc.stderr
