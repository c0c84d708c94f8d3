"""Text that could fool a reader: bidi controls, literal tag names in titles, mislabelled UTF-8."""

from __future__ import annotations

import html
import json
from pathlib import Path

import feedparser

from aaltowatch.core.text import clean_inline
from feeds.sanitize import clean_text
from pages.decode import decode_html
from tests.conftest import run_cli
from tests.faultserver import NORDIC_STORIES, STORIES, Fault, FaultServer, Page, site_pages
from tests.test_faults import FAST, export

FIRST = "/en/news/first-story"
FI_STORY, SV_STORY = NORDIC_STORIES
PUBLIC = "https://www.aalto.fi"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
STYLE_TITLE = "HTML <style> and CSS basics"


def body_of(path: str) -> str:
    return site_pages()[path].default.body.decode("utf-8")


def retitled(path: str, old: str, new: str) -> bytes:
    return body_of(path).replace(html.escape(old), html.escape(new)).encode("utf-8")


def test_bidi_controls_never_reach_text() -> None:
    assert clean_inline(f"Re{BIDI}search") == "Research"
    assert clean_text(f"Re{BIDI}search") == "Research"  # text archived before the rule


def test_literal_tag_names_do_not_cut_titles() -> None:
    for name in ("style", "svg", "math", "title", "textarea"):
        text = f"HTML <{name}> and CSS basics"
        cleaned = clean_text(text)
        assert cleaned.startswith("HTML ") and cleaned.endswith(f"{name}\u203a and CSS basics")
        assert "<" not in cleaned
    assert clean_text("a <style>p{}</style> b") == "a  b"  # a real element still goes


def test_utf8_labelled_with_a_legacy_multibyte_charset_is_utf8() -> None:
    text = "<html><head><meta charset='gbk'></head><body>Otnäs – vår 中文</body></html>"
    assert decode_html(text.encode("utf-8"), "text/html; charset=gbk") == text
    real_gbk = "<html><body>中文新闻</body></html>"
    assert decode_html(real_gbk.encode("gbk"), "text/html; charset=gbk") == real_gbk


def test_crawled_text_is_clean_in_archive_feeds_and_opml(tmp_path: Path) -> None:
    db, feeds = tmp_path / "archive.db", tmp_path / "feeds"
    first_title = STORIES["first-story"][0]
    fi_title = NORDIC_STORIES[FI_STORY][0]
    fi_bidi = fi_title.replace("Otaniemestä", "Otan\u202eiemestä\u2066")
    with FaultServer() as srv:
        srv.set_page(FIRST, Page(Fault.ok(retitled(FIRST, first_title, STYLE_TITLE))))
        srv.set_page(FI_STORY, Page(Fault.ok(retitled(FI_STORY, fi_title, fi_bidi))))
        listing = body_of("/en/news").replace("Campus", "Cam\u202epus")
        srv.set_page("/en/news", Page(Fault.ok(listing)))
        gbk = body_of(SV_STORY).replace('charset="utf-8"', 'charset="gbk"').encode("utf-8")
        srv.set_page(SV_STORY, Page(Fault.ok(gbk, "text/html; charset=gbk")))
        proc = run_cli("--base-url", srv.url, "--feeds-dir", str(feeds), "run", "--once",
                       "--spider", "news", db=db, **FAST)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    pages = export(db)
    assert pages[PUBLIC + FIRST]["title"] == STYLE_TITLE
    assert pages[PUBLIC + FI_STORY]["title"] == fi_title
    assert pages[PUBLIC + SV_STORY]["title"] == NORDIC_STORIES[SV_STORY][0]
    dump = json.dumps(pages, ensure_ascii=False)
    assert not set(BIDI) & set(dump)
    for path in feeds.iterdir():
        assert not set(BIDI) & set(path.read_text(encoding="utf-8")), path.name
    news = feedparser.parse(str(feeds / "news-en.xml"))
    assert news.bozo == 0
    titles = {e.link: e.title for e in news.entries}
    assert titles[PUBLIC + FIRST].endswith("and CSS basics"), titles
    opml = (feeds / "feeds.opml").read_text(encoding="utf-8")
    assert "Aalto University: Campus" in opml
