"""A living aalto.fi: news and partnership pages that evolve over virtual time, from a seed.

The site is a pure function of (seed, size, virtual time). Pages are rendered lazily from
(page id, version, day) with :func:`bench.sitegen.article`, so 20,000 pages cost a few MB.
Everything that happens is drawn up front, day by day, into :attr:`LiveSite.events`: that
list is the ground truth the freshness bench scores the crawler against.

What happens, per simulated day:
- new stories (top of the listings, in the sitemap with a lastmod, in the RSS feed);
- edits, likelier the younger the page (body and `Updated:` change, the lastmod moves);
- silent edits (the body changes; neither the lastmod nor `Updated:` moves);
- removals (404 or 410) and moves (301 to a new path);
- partnership page edits, and new partner pages linked from their language's hub;
- noise that is not a change: every page's "Read more news" cards and image `itok` rotate daily.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from enum import StrEnum
from html import escape

from aaltowatch.core.urls import (
    COLLABORATION_SECTIONS,
    FEED_PATH,
    HUB_PATHS,
    LANGS,
    LISTING_PATHS,
    NEWS_SECTIONS,
    PUBLIC_HOST,
    content_kind,
)
from bench import sitegen

EPOCH = datetime(2026, 1, 5, tzinfo=UTC)  # virtual day 0, 00:00 UTC
DAY = timedelta(days=1)
NEWS_PER_DAY = 8  # the real site publishes 5-10 stories a day over en/fi/sv
PARTNERS_PER_LANG = 8
SITEMAP_CHUNK = 2000
FEED_ITEMS = 20
HTML = "text/html; charset=UTF-8"
XML = "application/xml; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
ROBOTS = "User-agent: *\nDisallow: /en/search\n"


class Kind(StrEnum):
    """Ground-truth event kinds, as the bench reports them."""

    NEW = "new story"
    EDIT_YOUNG = "edit < 30 d"
    EDIT_OLD = "edit >= 30 d"
    SILENT = "silent edit"
    REMOVAL = "removal"
    MOVE = "move"
    PARTNER_EDIT = "partnership edit"
    NEW_PARTNER = "new partner"


# The change (archive `changes.change`) that detects each kind of event.
EXPECTED_CHANGE = {
    Kind.NEW: "new",
    Kind.EDIT_YOUNG: "modified",
    Kind.EDIT_OLD: "modified",
    Kind.SILENT: "modified",
    Kind.REMOVAL: "removed",
    Kind.MOVE: "moved",
    Kind.PARTNER_EDIT: "modified",
    Kind.NEW_PARTNER: "new",
}


def edit_rate(age_days: float, rare: float = 1.0) -> float:
    """Visible edits per day for a page of this age: young stories get corrected and updated."""
    return 0.3 * math.exp(-age_days / 5) + 0.0006 * rare


SILENT_RATE = 0.0002  # per page and day, any age
REMOVAL_RATE = 0.0001
MOVE_RATE = 0.0001
PARTNER_EDIT_RATE = 0.03
NEW_PARTNER_RATE = 0.25  # per day, over the three languages


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: Kind
    page: int
    url: str  # canonical URL where the change shows (a move: the new URL)
    moved_from: str | None = None


@dataclass
class Page:
    id: int
    kind: str  # news | partner | hub
    lang: str
    slug: str
    title: str
    lead: str
    category: str
    published: datetime
    edits: list[datetime] = field(default_factory=list)  # every body change, in time order
    visible_edits: list[datetime] = field(default_factory=list)  # those that move lastmod
    end: datetime | None = None  # removed or moved at
    end_status: int = 0  # 404 | 410 | 301
    new_slug: str = ""

    @property
    def section(self) -> str:
        return (
            NEWS_SECTIONS[self.lang] if self.kind == "news" else COLLABORATION_SECTIONS[self.lang]
        )

    def path(self, moved: bool = False) -> str:
        return f"/{self.lang}/{self.section}/{self.new_slug if moved else self.slug}"

    def version(self, t: datetime) -> int:
        return bisect.bisect_right(self.edits, t)

    def lastmod(self, t: datetime) -> datetime:
        n = bisect.bisect_right(self.visible_edits, t)
        return self.visible_edits[n - 1] if n else self.published

    def live(self, t: datetime) -> bool:
        return self.published <= t and (self.end is None or self.end > t)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def shown(t: datetime) -> str:
    return f"{t.day}.{t.month}.{t.year}"


def url_of(path: str) -> str:
    return f"https://{PUBLIC_HOST}{path}"


def request_kind(path: str) -> str:
    """What a request was for, as the bench counts it: article, listing, sitemap, feed, ..."""
    bare = path.split("?", 1)[0]
    if bare.startswith("/sitemap"):
        return "sitemap"
    if bare == FEED_PATH:
        return "feed"
    if bare in LISTING_PATHS.values():
        return "listing"
    kind = content_kind(bare)
    if kind is not None:
        return "article" if kind[0] == "news" else "partnership"
    return "robots" if bare == "/robots.txt" else "other"


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str = HTML
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    location: str | None = None


class LiveSite:
    """The whole site's history; :meth:`view` gives the site as it is at one virtual time."""

    def __init__(
        self, pages: int = 20_000, days: int = 14, seed: int = 1, rare: float = 1.0
    ) -> None:
        """`rare` multiplies the age-independent rates (old-page and silent edits, removals,
        moves): a smaller site with `rare` = 20,000 / pages has as many such events."""
        self.size, self.days, self.seed, self.rare = pages, days, seed, rare
        self.rng = random.Random(seed)
        self.pages: list[Page] = []
        self.events: list[Event] = []
        self._initial()
        for day in range(days):
            self._day(day)
        self.events.sort(key=lambda e: (e.at, e.page))

    # -- history ------------------------------------------------------------------------------
    def _new_page(self, kind: str, lang: str, published: datetime) -> Page:
        rng = self.rng
        title = sitegen._sentence(rng, rng.randint(5, 11))[:-1] + f" {len(self.pages)}"
        slug = "-".join(title.lower().translate(sitegen.ASCII).split())
        page = Page(
            len(self.pages), kind, lang, slug, title, sitegen._sentence(rng, 25),
            rng.choice(sitegen.CATEGORIES), published.replace(microsecond=0),
        )  # fmt: skip
        self.pages.append(page)
        return page

    def _lang(self) -> str:
        return self.rng.choices([lang for lang, _ in sitegen.LANG_SHARE],
                                [w for _, w in sitegen.LANG_SHARE])[0]  # fmt: skip

    def _initial(self) -> None:
        spacing = DAY / NEWS_PER_DAY
        for i in range(self.size):  # newest first, spread back in time at the daily rate
            self._new_page("news", self._lang(), EPOCH - spacing * (i + self.rng.random()))
        start = EPOCH - timedelta(days=3 * 365)
        for lang in LANGS:
            hub = self._new_page("hub", lang, start)
            hub.slug = HUB_PATHS[lang].rsplit("/", 1)[1]
            for _ in range(PARTNERS_PER_LANG):
                self._new_page("partner", lang, start + DAY * self.rng.randint(0, 900))

    def _event(self, at: datetime, kind: Kind, page: Page) -> None:
        at = at.replace(microsecond=0)
        moved_from = None
        if kind is Kind.MOVE:
            page.end, page.end_status, page.new_slug = at, 301, page.slug + "-moved"
            moved_from = url_of(page.path())
        elif kind is Kind.REMOVAL:
            page.end, page.end_status = at, self.rng.choice((404, 410))
        elif kind not in (Kind.NEW, Kind.NEW_PARTNER):
            page.edits.append(at)
            if kind is not Kind.SILENT:
                page.visible_edits.append(at)
        self.events.append(Event(at, kind, page.id, url_of(page.path(moved=moved_from is not None)),
                                 moved_from))  # fmt: skip

    def _day(self, day: int) -> None:
        rng = self.rng
        start = EPOCH + DAY * day

        def during() -> datetime:
            return start + timedelta(seconds=rng.uniform(0, 86_400))

        existing = [p for p in self.pages if p.end is None]  # before today's stories
        for _ in range(NEWS_PER_DAY):
            published = start + timedelta(hours=rng.uniform(7, 19))
            self._event(published, Kind.NEW, self._new_page("news", self._lang(), published))
        if rng.random() < NEW_PARTNER_RATE:
            lang = rng.choice(LANGS)
            at = during()
            self._event(at, Kind.NEW_PARTNER, self._new_page("partner", lang, at))
        for page in existing + self.pages[len(self.pages) - NEWS_PER_DAY :]:
            if page.kind == "hub" or page.end is not None:
                continue
            at = during()
            if at <= page.published:
                continue
            if page.kind == "partner":
                if rng.random() < PARTNER_EDIT_RATE:
                    self._event(at, Kind.PARTNER_EDIT, page)
                continue
            age = (at - page.published) / DAY
            u, edit, rare = rng.random(), edit_rate(age, self.rare), self.rare
            if u < edit:
                self._event(at, Kind.EDIT_YOUNG if age < 30 else Kind.EDIT_OLD, page)
            elif (u := u - edit) < SILENT_RATE * rare:
                self._event(at, Kind.SILENT, page)
            elif (u := u - SILENT_RATE * rare) < REMOVAL_RATE * rare:
                self._event(at, Kind.REMOVAL, page)
            elif u - REMOVAL_RATE * rare < MOVE_RATE * rare:
                self._event(at, Kind.MOVE, page)

    def view(self, t: datetime) -> SiteView:
        return SiteView(self, t)


class SiteView:
    """The site at virtual time `t`: what each path answers. Built once per clock setting."""

    def __init__(self, site: LiveSite, t: datetime) -> None:
        self.site, self.t = site, t
        self.day = math.floor((t - EPOCH) / DAY)
        self.paths: dict[str, tuple[Page, bool]] = {}  # path -> (page, at its moved path)
        self.gone: dict[str, int] = {}
        self.redirects: dict[str, str] = {}
        self.news: dict[str, list[Page]] = {lang: [] for lang in LANGS}
        self.partners: dict[str, list[Page]] = {lang: [] for lang in LANGS}
        for page in site.pages:
            if page.published > t:
                continue
            ended = page.end is not None and page.end <= t
            if ended and page.end_status == 301:
                self.redirects[page.path()] = page.path(moved=True)
                self.paths[page.path(moved=True)] = (page, True)
            elif ended:
                self.gone[page.path()] = page.end_status
                continue
            else:
                self.paths[page.path()] = (page, False)
            if page.kind == "news":
                self.news[page.lang].append(page)
            elif page.kind == "partner":
                self.partners[page.lang].append(page)
        for pages in self.news.values():
            pages.sort(key=lambda p: p.published, reverse=True)
        self._static: dict[str, Response] = {}

    def story(self, page: Page) -> sitegen.Story:
        moved = page.path() in self.redirects
        return sitegen.Story(
            page.lang, page.new_slug if moved else page.slug, page.title, page.lead,
            iso(page.published), shown(page.published), page.category, page.section,
        )  # fmt: skip

    def _text(self, status: int, content_type: str, text: str, stamp: datetime) -> Response:
        body = text.encode("utf-8")
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        return Response(status, content_type, body, etag, format_datetime(stamp, usegmt=True))

    # -- what a path answers ------------------------------------------------------------------
    def etag(self, path: str) -> str | None:
        """A content page's validator without rendering it (304s must be cheap)."""
        hit = self.paths.get(path)
        if hit is None:
            return None
        page, _ = hit
        extra = len(self.partners[page.lang]) if page.kind == "hub" else 0
        return f'"{page.id}.{page.version(self.t)}.{self.day}.{extra}"'

    def get(self, path: str) -> Response:
        if path in self.redirects:
            return Response(301, location=self.redirects[path])
        if path in self.gone:
            return Response(self.gone[path], body=b"<html><body>Not found</body></html>")
        hit = self.paths.get(path)
        if hit is not None:
            return self._page(hit[0], path)
        if path not in self._static:
            self._static[path] = self._render_static(path)
        return self._static[path]

    def _page(self, page: Page, path: str) -> Response:
        site, t = self.site, self.t
        version = page.version(t)
        rng = random.Random(f"{site.seed}:{page.id}:{version}")
        pool = site.size
        related = [  # rotating "Read more news" cards: noise, not content
            self.story(site.pages[(page.id * 7 + self.day * 13 + k * 101) % pool]) for k in range(4)
        ]
        lastmod = page.lastmod(t)
        updated = (iso(lastmod), shown(lastmod)) if lastmod > page.published else None
        itok = hashlib.blake2b(f"{page.id}:{self.day}".encode(), digest_size=4).hexdigest()
        lift_ups = ""
        if page.kind == "hub":
            lift_ups = "".join(
                f'<div class="aalto-lift-up"><a class="aalto-lift-up__link" href="{p.path()}">'
                f"{escape(p.title)}</a></div>"
                for p in self.partners[page.lang]
            )
        text = sitegen.article(
            self.story(page), rng, related, updated=updated, itok=itok, lift_ups=lift_ups
        )
        stamp = max(page.edits[version - 1] if version else page.published, EPOCH + DAY * self.day)
        body = text.encode("utf-8")
        return Response(200, HTML, body, self.etag(path), format_datetime(stamp, usegmt=True))

    def _render_static(self, path: str) -> Response:
        bare, _, query = path.partition("?")
        day_start = EPOCH + DAY * self.day
        if bare == "/robots.txt":
            return self._text(200, "text/plain; charset=utf-8", ROBOTS, EPOCH)
        if bare == FEED_PATH:
            return self._text(
                200,
                RSS,
                sitegen.feed([self.story(p) for p in self.news["en"][:FEED_ITEMS]]),
                day_start,
            )
        if bare == "/sitemap.xml":
            return self._sitemap(query)
        for lang, listing_path in LISTING_PATHS.items():
            if bare == listing_path:
                return self._listing(lang, query)
        return Response(404, body=b"<html><body>Not found</body></html>")

    def _listing(self, lang: str, query: str) -> Response:
        pages = self.news[lang]
        count = max(1, -(-len(pages) // sitegen.PER_PAGE))
        n = (
            int(query.removeprefix("page="))
            if query.startswith("page=") and query[5:].isdigit()
            else 0
        )
        if (query and not query.startswith("page=")) or n >= count:
            return Response(404, body=b"<html><body>Not found</body></html>")
        shown_pages = pages[n * sitegen.PER_PAGE : (n + 1) * sitegen.PER_PAGE]
        text = sitegen.listing(lang, n, count, [self.story(p) for p in shown_pages])
        newest = max((p.published for p in shown_pages), default=EPOCH)
        return self._text(200, HTML, text, newest)

    def _sitemap(self, query: str) -> Response:
        pages = sorted((p for ps in self.news.values() for p in ps), key=lambda p: p.published)
        chunks = [pages[i : i + SITEMAP_CHUNK] for i in range(0, len(pages), SITEMAP_CHUNK)]
        if not query:
            index = "".join(
                f"<sitemap><loc>https://{PUBLIC_HOST}/sitemap.xml?page={n}</loc>"
                f"<lastmod>{iso(max(p.lastmod(self.t) for p in chunk))}</lastmod></sitemap>"
                for n, chunk in enumerate(chunks, 1)
            )
            text = f'{XML_DECL}<sitemapindex xmlns="{SITEMAP_NS}">{index}</sitemapindex>'
            return self._text(200, XML, text, EPOCH + DAY * self.day)
        n = int(query.removeprefix("page=")) if query.removeprefix("page=").isdigit() else 0
        if not 1 <= n <= len(chunks):
            return Response(404, body=b"<html><body>Not found</body></html>")
        chunk = chunks[n - 1]
        urls = "".join(
            f"<url><loc>{url_of(self.paths_of(p))}</loc><lastmod>{iso(p.lastmod(self.t))}</lastmod></url>"
            for p in chunk
        )
        text = f'{XML_DECL}<urlset xmlns="{SITEMAP_NS}">{urls}</urlset>'
        return self._text(200, XML, text, max(p.lastmod(self.t) for p in chunk))

    def paths_of(self, page: Page) -> str:
        return page.path(moved=page.path() in self.redirects)
