"""Generate a large aalto.fi-shaped site on disk: articles, paginated listings, sitemaps, feed.

Articles copy the structure of the bundled snapshot's real news pages (Drupal chrome, cookie
and analytics scripts, share widget, "Read more news" cards, footer) with varied text, so the
page objects do the same work per page as on the real site.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from pathlib import Path

PER_PAGE = 12
ASCII = str.maketrans("äöå", "aoa")  # Drupal's path aliases are transliterated
SECTIONS = {"en": "news", "fi": "uutiset", "sv": "nyheter"}
LANG_SHARE = (("en", 0.6), ("fi", 0.2), ("sv", 0.2))
CATEGORIES = ("University", "Research", "Campus", "Press releases", "Studies", "Cooperation")
LAST_MODIFIED = "Tue, 20 Jan 2026 16:00:00 GMT"
_WORD_TEXT = (
    "aalto university research campus otaniemi students science technology design business art "
    "energy climate sustainability quantum materials innovation startup espoo helsinki city "
    "partnership agreement professor doctoral thesis funding project laboratory future digital "
    "health water forest circular economy collaboration education society rector board "
    "tutkimus yliopisto kampus opiskelijat kestävä kehitys forskning universitet studerande"
)
WORDS = _WORD_TEXT.split()
HEAD = """<!DOCTYPE html>
<html lang="{lang}" dir="ltr" prefix="og: https://ogp.me/ns#">
  <head>
    <meta charset="utf-8" />
<script type="text/javascript" id="Cookiebot" src="https://consent.cookiebot.com/uc.js" \
data-cbid="7439002e-4a7e-4422-bda9-d575b2a8d8ce" async="async" data-culture="{lang}"></script>
<script>window.dataLayer = window.dataLayer || [];</script>
<meta name="description" content="{lead}" />
<link rel="canonical" href="https://www.aalto.fi{path}" />
<meta property="og:site_name" content="Aalto University" />
<meta property="og:type" content="article" />
<meta property="og:url" content="https://www.aalto.fi{path}" />
<meta property="og:title" content="{title} | Aalto University" />
<meta property="article:published_time" content="{published}" />
<meta name="Generator" content="Drupal 10 (https://www.drupal.org)" />
<meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <title>{title} | Aalto University</title>
    <link rel="stylesheet" media="all" href="/sites/g/files/flghsv161/files/css/css_q.css" />
  </head>
  <body class="path-node page-node-type-aalto-news">
    <a href="#main-content" class="visually-hidden focusable skip-link">Skip to main content</a>
    <div class="dialog-off-canvas-main-canvas" data-off-canvas-main-canvas>
    <div class="layout-container">
    <header class="aalto-header" role="banner">
      <div class="aalto-header__container">
        <div class="aalto-header__logo"><a href="/{lang}" class="aalto-header__logo-link" \
rel="home" title="Aalto University"><img src="/themes/custom/aalto_theme/dist/images/logo.svg" \
alt="Aalto University" width="140" height="64" /></a></div>
        <nav class="aalto-header__utility" aria-label="Utility">
        <ul class="aalto-utility-menu">
          <li class="aalto-utility-menu__item"><a class="aalto-utility-menu__link" \
href="/en/services/it-services">IT Services</a></li>
          <li class="aalto-utility-menu__item"><a class="aalto-utility-menu__link" \
href="/en/people">Find people</a></li>
        </ul>
        <form class="aalto-search-form" action="/en/search" method="get" role="search">\
<input type="search" id="edit-keys" name="keys" size="15" maxlength="128" />\
<button type="submit" class="aalto-search-form__submit">Search</button></form>
        </nav>
        <nav class="aalto-main-menu" aria-label="Main navigation">
        <ul class="aalto-main-menu__list">
          <li class="aalto-main-menu__item"><a class="aalto-main-menu__link" \
href="/en/study-options">Study</a></li>
          <li class="aalto-main-menu__item"><a class="aalto-main-menu__link" \
href="/en/open-positions">Work with us</a></li>
          <li class="aalto-main-menu__item"><a class="aalto-main-menu__link" \
href="/{lang}/{section}">News</a></li>
        </ul>
        </nav>
      </div>
    </header>
    <main role="main" class="aalto-main">
      <a id="main-content" tabindex="-1"></a>
"""
FOOT = """    </main>
    <footer class="aalto-footer" role="contentinfo">
      <div class="aalto-footer__content">
        <address class="aalto-footer__address">Aalto University<br />P.O. Box 11000 \
(Otakaari 1B)<br />FI-00076 AALTO</address>
        <ul class="aalto-footer__links">
          <li class="aalto-footer__links-item"><a href="/en/contact-information">Contact \
information</a></li>
          <li class="aalto-footer__links-item"><a href="/en/data-protection">Data protection\
</a></li>
        </ul>
        <div class="aalto-footer__copyright">© Aalto University</div>
      </div>
    </footer>
    </div>
    </div>
    <script src="/sites/g/files/flghsv161/files/js/js_vz6o.js?scope=footer"></script>
  </body>
</html>
"""


@dataclass(frozen=True)
class Story:
    lang: str
    slug: str
    title: str
    lead: str
    published: str
    shown: str
    category: str
    section: str = ""  # default: the language's news section

    @property
    def path(self) -> str:
        return f"/{self.lang}/{self.section or SECTIONS[self.lang]}/{self.slug}"


def _sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def make_stories(count: int, seed: int = 1) -> list[Story]:
    """Stories newest first, languages mixed as on the real site, dates one hour apart."""
    rng = random.Random(seed)
    stories = []
    for i in range(count):
        lang = rng.choices([lang for lang, _ in LANG_SHARE], [w for _, w in LANG_SHARE])[0]
        title = _sentence(rng, rng.randint(5, 11))[:-1] + f" {i}"
        hours = 24 * 365 * 6 - i
        day, hour = divmod(hours, 24)
        year, yday = divmod(day, 365)
        month, mday = divmod(yday % 336, 28)
        published = f"{2020 + year:04d}-{month + 1:02d}-{mday + 1:02d}T{hour:02d}:00:00Z"
        shown = f"{mday + 1}.{month + 1}.{2020 + year}"
        slug = "-".join(title.lower().translate(ASCII).split())
        stories.append(
            Story(lang, slug, title, _sentence(rng, 25), published, shown, rng.choice(CATEGORIES))
        )
    stories.sort(key=lambda s: s.published, reverse=True)
    return stories


MENU_LINKS = [
    f'<li class="aalto-mega-menu__item"><a class="aalto-mega-menu__link" '
    f'href="/en/{section}/{topic}-{n}">{section.title()} {topic} {n}</a></li>'
    for n in range(1, 41)
    for section in ("study-options", "research", "services", "schools", "campus")
    for topic in ("overview", "contacts")
]


def article(
    story: Story,
    rng: random.Random,
    related: list[Story],
    *,
    updated: tuple[str, str] | None = None,
    itok: str | None = None,
    lift_ups: str = "",
) -> str:
    """One news page, 20-60 KB like the real site's: most bytes are chrome (menus, scripts,
    teasers); the story itself is 3-25 blocks, as the snapshot's bodies are 33-310 words.

    `updated` is the (datetime, shown) of the Updated: item (default: the publication),
    `itok` the image cache-buster, `lift_ups` cards after the article (a hub's links)."""
    paragraphs = "\n".join(
        f"<p>{escape(_sentence(rng, rng.randint(12, 40)))}</p>"
        if k % 7
        else f"<h2>{escape(_sentence(rng, 4))}</h2>"
        for k in range(1, rng.randint(4, 26))
    )
    menu = "".join(MENU_LINKS[: rng.randint(100, len(MENU_LINKS))])
    info = "".join(
        '<div class="aalto-article__info-item">'
        f'<div class="aalto-article__info-title">{label}</div>'
        '<div class="aalto-article__info-text">'
        f'<time datetime="{stamp}">{shown}</time></div></div>'
        for label, (stamp, shown) in (
            ("Published:", (story.published, story.shown)),
            ("Updated:", updated or (story.published, story.shown)),
        )
    )
    cards = "".join(
        '<div class="aalto-news-card"><div class="aalto-news-card__meta">'
        f'<span class="aalto-news-card__category">{other.category}</span> '
        '<span class="aalto-news-card__date">Published: '
        f'<time datetime="{other.published}">{other.shown}</time></span></div>'
        '<h3 class="aalto-news-card__title"><a class="aalto-news-card__link" '
        f'href="{other.path}">{escape(other.title)}</a></h3>'
        f'<div class="aalto-news-card__summary">{escape(other.lead)}</div></div>'
        for other in related
    )
    image = rng.randint(1, 10**6)
    itok = itok or f"x{image}"
    main = f"""      <nav class="aalto-mega-menu" aria-label="Site"><ul>{menu}</ul></nav>
      <div class="aalto-breadcrumb"><nav class="breadcrumb" role="navigation"><ol>\
<li class="breadcrumb__item"><a href="/{story.lang}">Front page</a></li>\
<li class="breadcrumb__item">{escape(story.title)}</li></ol></nav></div>
      <div class="aalto-article aalto-article--news" data-history-node-id="{image}">
        <div class="article-container aalto-article__top">
          <div class="aalto-article__label">News</div>
          <h1 class="aalto-article__title"><span>{escape(story.title)}</span></h1>
          <div class="aalto-article__ingress"><p>{escape(story.lead)}</p></div>
        </div>
        <div class="article-container aalto-article__content">
<figure class="aalto-figure"><img src="/sites/g/files/flghsv161/files/{image}.jpg?itok={itok}" \
alt="{escape(story.title)}" /><figcaption class="aalto-figure__caption">\
{escape(_sentence(rng, 8))}</figcaption></figure>
<div class="paragraph paragraph--type--text-text paragraph--view-mode--default">\
<div class="aalto-user-generated-content">
{paragraphs}
</div></div>
        <div class="aalto-article__info">{info}</div>
        <div class="aalto-share"><span class="aalto-share__title">Share</span><ul \
class="aalto-share__list"><li><a class="aalto-share__link" \
href="https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Fwww.aalto.fi{story.path}">\
<span class="visually-hidden">Facebook</span></a></li></ul></div>
        </div>
      </div>
{lift_ups}      <section class="aalto-related-news"><h2 class="aalto-related-news__title">\
Read more news</h2><div class="aalto-related-news__items">{cards}</div></section>
"""
    head = HEAD.format(
        lang=story.lang,
        section=SECTIONS[story.lang],
        path=story.path,
        title=escape(story.title),
        lead=escape(story.lead),
        published=story.published,
    )
    return head + main + FOOT


def listing(lang: str, page: int, pages: int, stories: list[Story]) -> str:
    """One listing page (0-based ?page=N) with 12 teasers and a Drupal pager."""
    rows = "".join(
        '<div class="aalto-listing-row aalto-listing-row--news">'
        '<div class="aalto-listing-row__content-column"><div class="aalto-listing-row__meta">'
        '<span class="aalto-listing-row__meta-item aalto-listing-row__meta-item--category">'
        f"{s.category}</span> "
        '<span class="aalto-listing-row__meta-item aalto-listing-row__meta-item--date">'
        f'Published: <time datetime="{s.published}">{s.shown}</time></span></div>'
        '<h2 class="aalto-listing-row__title"><a class="aalto-listing-row__link" '
        f'href="{s.path}">{escape(s.title)}</a></h2>'
        f'<div class="aalto-listing-row__summary">{escape(s.lead)}</div></div></div>'
        for s in stories
    )
    pager = "".join(
        f'<li class="aalto-pager__item"><a class="aalto-pager__item-link" href="?page={n}">'
        f"{n + 1}</a></li>"
        for n in (page - 1, page + 1)
        if 0 <= n < pages
    )
    main = (
        f'<div class="aalto-listing">{rows}</div><nav class="aalto-pager" role="navigation">'
        f'<ul class="aalto-pager__items">{pager}</ul></nav>\n'
    )
    section = SECTIONS[lang]
    head = HEAD.format(
        lang=lang,
        section=section,
        path=f"/{lang}/{section}",
        title="News",
        lead="News",
        published="",
    )
    return head + main + FOOT


def sitemaps(stories: list[Story], per_file: int = 2000) -> dict[str, str]:
    """A sitemap index and its urlset pages (?page=N), every article with a lastmod."""
    out: dict[str, str] = {}
    chunks = [stories[i : i + per_file] for i in range(0, len(stories), per_file)]
    index = "".join(
        f"<sitemap><loc>https://www.aalto.fi/sitemap.xml?page={n}</loc>"
        f"<lastmod>2026-01-16T12:31:00+02:00</lastmod></sitemap>"
        for n in range(1, len(chunks) + 1)
    )
    out["/sitemap.xml"] = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{index}</sitemapindex>'
    )
    for n, chunk in enumerate(chunks, 1):
        urls = "".join(
            f"<url><loc>https://www.aalto.fi{s.path}</loc><lastmod>{s.published}</lastmod></url>"
            for s in chunk
        )
        out[f"/sitemap.xml?page={n}"] = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        )
    return out


def feed(stories: list[Story]) -> str:
    items = "".join(
        f"<item><title>{escape(s.title)}</title><link>https://www.aalto.fi{s.path}</link>"
        f"<description>{escape(escape(s.lead))}</description>"
        f"<category>{s.category}</category><guid>{s.slug}</guid></item>"
        for s in stories
        if s.lang == "en"
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        "<title>Aalto University news</title><link>https://www.aalto.fi/en/news</link>"
        f"{items}</channel></rss>\n"
    )


def site(stories: list[Story], seed: int = 2) -> Iterator[tuple[str, str, str]]:
    """Every URL of the site as (path?query, content type, text)."""
    html, xml = "text/html; charset=UTF-8", "application/xml; charset=utf-8"
    yield "/robots.txt", "text/plain; charset=utf-8", "User-agent: *\nDisallow: /en/search\n"
    yield "/en/news/feed", "application/rss+xml; charset=utf-8", feed(stories[:20])
    for path, text in sitemaps(stories).items():
        yield path, xml, text
    rng = random.Random(seed)
    for i, story in enumerate(stories):
        related = [stories[(i + k) % len(stories)] for k in (1, 2, 3, 4)]
        yield story.path, html, article(story, rng, related)
    for lang, section in SECTIONS.items():
        mine = [s for s in stories if s.lang == lang]
        pages = max(1, -(-len(mine) // PER_PAGE))
        for page in range(pages):
            text = listing(lang, page, pages, mine[page * PER_PAGE : (page + 1) * PER_PAGE])
            if page == 0:
                yield f"/{lang}/{section}", html, text
            yield f"/{lang}/{section}?page={page}", html, text


def write_site(root: Path, count: int) -> dict[str, dict[str, str]]:
    """Write the site under ``root`` with ``manifest.json`` (path -> file, type, ETag)."""
    root.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, dict[str, str]] = {}
    for n, (path, content_type, text) in enumerate(site(make_stories(count))):
        data = text.encode("utf-8")
        name = f"{n:06d}.bin"
        (root / name).write_bytes(data)
        etag = '"' + hashlib.sha256(data).hexdigest() + '"'
        manifest[path] = {"file": name, "content_type": content_type, "etag": etag}
    (root / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return manifest


def article_paths(manifest: dict[str, dict[str, str]]) -> list[str]:
    return [p for p in manifest if "?" not in p and p.count("/") == 3 and "/feed" not in p]
