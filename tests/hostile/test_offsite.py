"""Off-site links, redirects, file: links and canonical hijack: the boundary holds.

The internal service on 127.0.0.2 stands in for the operator's network; every link and
redirect of these sites points at it (or at file:), and it must get no request at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aaltowatch.core.errors import ExtractionError
from pages import parse_article
from tests.faultserver import Fault, Page, site_pages
from tests.hostile.conftest import assert_nothing_leaked, hostile_run
from tests.hostile.server import HostileServer, InternalService, article, listing, rss, sitemap

XML = "application/xml"
FILES = ("file://localhost/etc/passwd", "file:///dev/zero", "file://localhost/dev/zero")
FIRST = "/en/news/first-story"


def offsite_links_site(inside: str) -> dict[str, Page]:
    """The fault site whose feed, listing, pager, sitemaps and articles all link out."""
    pages = site_pages()
    pages["/en/news/feed"] = Page(
        Fault.ok(
            rss(
                [
                    (f"https://www.aalto.fi{FIRST}", "First", ["Campus"]),
                    (f"{inside}/en/news/from-rss", "Secret", ["Campus"]),
                    *((f, "File", ["Campus"]) for f in FILES),
                ]
            ),
            "application/rss+xml",
        )
    )
    pages["/en/news"] = Page(
        Fault.ok(
            listing(
                [(FIRST, "First"), (f"{inside}/en/news/from-listing", "Secret")],
                pager=(f"{inside}/en/news?page=1", *FILES),
            )
        )
    )
    pages["/sitemap.xml"] = Page(
        Fault.ok(
            sitemap(["/sitemap-news.xml", f"{inside}/sitemap-child.xml", *FILES], index=True), XML
        )
    )
    pages["/sitemap-news.xml"] = Page(
        Fault.ok(sitemap([f"https://www.aalto.fi{FIRST}", f"{inside}/en/news/from-sitemap"]), XML)
    )
    return pages


def test_offsite_and_file_links_from_feed_listing_pager_and_sitemaps_are_refused(
    tmp_path: Path, internal: InternalService
) -> None:
    with HostileServer(offsite_links_site(internal.url)) as srv:
        run = hostile_run(tmp_path, srv.url)
    assert_nothing_leaked(run, internal)
    assert run.stats.get("boundary/refused", 0) >= 3  # pager, sitemap child, file: links
    assert "outside the site's boundary" in run.proc.stderr
    assert any(p["url"].endswith(FIRST) for p in run.export())  # the site itself still works


def test_offsite_hub_links_that_look_like_ours_are_not_followed(
    tmp_path: Path, internal: InternalService
) -> None:
    """A partner's link whose path looks like a collaboration page is still a partner's."""
    hub = "/en/collaboration/collaboration-with-cities-and-regions"
    body = article(
        hub,
        "Collaboration with cities",
        extra=f'<a href="{internal.url}/en/collaboration/partner-page">Partner</a>'
        f'<a href="{internal.url}/fi/yhteistyo/kumppani">Kumppani</a>'
        '<a href="file://localhost/etc/passwd">passwd</a>',
    )
    with HostileServer({hub: Page(Fault.ok(body))}) as srv:
        run = hostile_run(tmp_path, srv.url, spider="partnerships")
    assert_nothing_leaked(run, internal)


def test_redirects_off_site_are_refused_for_every_request_type(
    tmp_path: Path, internal: InternalService
) -> None:
    """robots.txt, sitemap, feed, listings and articles all redirect to the internal service."""
    out = internal.url
    pages = site_pages()
    pages["/robots.txt"] = Page(Fault.redirect(f"{out}/robots.txt", 302))
    pages["/sitemap.xml"] = Page(Fault.ok(sitemap(["/sitemap-1.xml"], index=True), XML))
    pages["/sitemap-1.xml"] = Page(Fault.redirect(f"{out}/sitemap.xml", 301))
    pages["/en/news/feed"] = Page(Fault.redirect(f"{out}/en/news/feed", 302))
    pages["/en/news"] = Page(Fault.redirect(f"{out}/en/news", 301))
    pages["/fi/uutiset"] = Page(Fault.redirect("file://localhost/etc/passwd", 302))
    pages["/sv/nyheter"] = Page(Fault.redirect(f"{out}/sv/nyheter", 307))
    pages[FIRST] = Page(Fault.redirect(f"{out}{FIRST}", 301))
    pages["/en/news/second-story"] = Page(Fault.redirect(f"{out}/en/news/second-story", 302))
    pages["/sitemap-2.xml"] = Page(Fault.ok(sitemap([f"https://www.aalto.fi{FIRST}"]), XML))
    hub = "/en/collaboration/collaboration-with-cities-and-regions"
    pages[hub] = Page(Fault.redirect(f"{out}{hub}", 301))
    with HostileServer(pages) as srv:
        news = hostile_run(tmp_path / "news", srv.url)
        partnerships = hostile_run(tmp_path / "partnerships", srv.url, spider="partnerships")
    assert_nothing_leaked(news, internal)
    assert_nothing_leaked(partnerships, internal)
    assert news.stats.get("boundary/refused", 0) >= 5


def test_canonical_of_an_offsite_page_is_never_trusted(tmp_path: Path) -> None:
    """A page fetched off the site cannot claim one of ours, even if a page object sees it."""
    hijacker = article(
        "/en/news/partner", "Hijack", canonical=f"https://www.aalto.fi{FIRST}"
    ).encode()
    with pytest.raises(ExtractionError, match="not a news or collaboration page"):
        parse_article(
            hijacker, "http://127.0.0.2:8080/en/news/partner", base_url="http://127.0.0.1:8123"
        )
    on_site = parse_article(
        hijacker, "http://127.0.0.1:8123/en/news/partner", base_url="http://127.0.0.1:8123"
    )
    assert on_site.url == f"https://www.aalto.fi{FIRST}"  # the site may name its own canonical


def test_canonical_hijack_by_a_linked_offsite_page_leaves_history_alone(
    tmp_path: Path, internal: InternalService
) -> None:
    """The internal service's pages name first-story as canonical; two runs, one version."""
    pages = site_pages()
    pages["/en/news"] = Page(
        Fault.ok(listing([(FIRST, "First"), (f"{internal.url}/en/news/first-story", "Evil")]))
    )
    with HostileServer(pages) as srv:
        hostile_run(tmp_path, srv.url)
        run = hostile_run(tmp_path, srv.url)
    assert_nothing_leaked(run, internal)
    first = next(p for p in run.export() if p["url"].endswith(FIRST))
    assert first["version_count"] == 1
