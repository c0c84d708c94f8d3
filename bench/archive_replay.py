"""An aged archive made a second way: simulated time replayed through the product's write path.

bench/archive_gen writes an aged archive's rows directly, in bulk SQL. This one writes none
itself: a simulated site of its own (below) is crawled run after run, its observations going
through the crawl's item pipeline (`pipeline.scrapy_pipeline.ArchivePipeline`: normalise, the
history decision, storage), each run started, health-checked and finished as a crawl's
(`aaltowatch.crawl._summarise`), the pages to revisit chosen by the planner from the archive,
the watches matched after each run and the run's steps recorded. The clock is moved by
time-machine, so versions, changes, checks, runs, alerts, raw responses and watch matches are
written, and dated, as a crawl writes them; the archive is closed after every run, as the
crawl's process does (its upkeep: the raw-body dictionary, `PRAGMA optimize`).

The site (a different random process from archive_gen's) at 20,000 x `scale` pages:
- new stories arrive as a Poisson process, more on weekdays and in office hours; 3% are
  cross-posts of a live story (duplicates); each new story gets a Poisson(2.5) number of
  follow-up edits, an exponential 1.5 days apart on average;
- every live story is also edited now and then (1.2% a day, uniformly, old stories too): a
  sentence rewritten, a paragraph added, the title or lead reworded, its categories changed;
- stories are removed (404; 0.015% a day, 30% of them come back later) and moved to a new
  URL (301; 0.005% a day; half of the moves are met from the new URL in a listing first);
- the page's bytes carry noise (a rotating card) that changes about once every two days:
  a conditional GET answers 304 only while the etag stored by the last fetch still holds;
- a fetch fails now and then (0.3%), and about once a week a run goes bad (30% failures,
  an `error_rate` alert);
- the text is its own: each story has a topic of 25 words from a flat vocabulary (the
  watched words among them), sentences mix topic and function words.

A run reads the listings (new stories, moves shown there), fetches the new pages, revisits
what the planner picks (at most `BUDGET_SHARE` of the pages a day), asks again the URLs the
pipeline asks for (a move seen from its new URL first), then ends. `RUNS_PER_DAY` runs a day,
not archive_gen's 48, and 250 pages by default (`scale` 0.0125): the write path costs
milliseconds an observation and the planner reads every page each run, so 3 years (2,190 runs,
~30,000 checks) stay minutes on a shared machine. History still grows with age as it does in
operation: versions, changes, checks, runs, alerts, kept raws and watch matches accumulate,
pages are removed, restored and moved, and nothing is pruned while generating. Only news pages
are watched (one spider).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench.archive_gen import START
from bench.sitegen import CATEGORIES, SECTIONS, WORDS

RUNS_PER_DAY = 2  # every 12 hours
BUDGET_SHARE = 0.5  # the planner's revisits a day at most, of the site's pages
BASE_URL = "https://www.aalto.fi"
# Per live page and day, unless said otherwise.
NEW_RATE = 0.0003  # new stories (6 a day at 20,000 pages)
CROSS_POSTS = 0.03  # of new stories: a copy of a live story under another URL
FOLLOW_UPS = 2.5  # edits of a new story in its first days (Poisson mean) ...
FOLLOW_UP_DAYS = 1.5  # ... an exponential this far apart on average
EDIT_RATE = 0.012
REMOVE_RATE = 0.00015
COMES_BACK = 0.3  # of removed stories, after an exponential 15 days on average
MOVE_RATE = 0.00005
MOVE_LISTED = 0.5  # of moves: the new URL is in a listing before the old one is asked
NOISE_RATE = 0.5  # changes of a page's noise (and so its etag)
FETCH_ERRORS = 0.003
BAD_RUNS = 1 / (7 * RUNS_PER_DAY)  # a run with many failed fetches, about once a week
BAD_RUN_ERRORS = 0.3

FUNCTION_WORDS = tuple(
    "the of and to in for with on at from by that is are was will as new".split()  # noqa: SIM905
)
_SYLLABLES = ("sta", "vi", "ko", "ur", "mel", "an", "pe", "dro", "li", "ssa", "tor", "ei")
CHROME = "".join(
    f'<li><a href="/en/{w}">{w.capitalize()} and {WORDS[(i * 7) % len(WORDS)]}</a></li>'
    for i, w in enumerate(WORDS)
)  # the site's navigation: the same on every page, as on the real one


def vocabulary(watched: list[str], size: int = 2500, seed: int = 5) -> list[str]:
    """A flat vocabulary (no word far more common than another), the watched words in it."""
    rng = random.Random(seed)
    words = list(dict.fromkeys([*WORDS, *watched]))
    while len(words) < size:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in words:
            words.append(word)
    return words


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's product of uniforms; a normal approximation for large means)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def activity(at: datetime) -> float:
    """The editors' rhythm (mean 1 over a week): weekdays and office hours (UTC) busier."""
    day = 1.3 if at.weekday() < 5 else 0.25
    return day * (1.8 if 6 <= at.hour < 18 else 0.2)


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Story:
    """One page of the simulated site as the site serves it now."""

    url: str
    lang: str
    topic: list[str]
    title: str
    lead: str
    paragraphs: list[str]
    categories: list[str]
    published: datetime
    updated: datetime
    status: str = "live"  # live | removed | moved
    moved_to: str | None = None
    revision: int = 0  # content edits
    noise: int = 0  # noise changes: with the revision, the etag
    follow_ups: list[datetime] = field(default_factory=list)
    back_at: datetime | None = None

    @property
    def etag(self) -> str:
        return f'"r{self.revision}-n{self.noise}"'

    def html(self) -> bytes:
        body = "".join(f"<p>{p}</p>" for p in self.paragraphs)
        return (
            f'<!DOCTYPE html><html lang="{self.lang}"><head><title>{self.title}</title></head>'
            f"<body><nav><ul>{CHROME}</ul></nav><aside class=card>Read more {self.noise}"
            f" {hashlib.md5(self.url.encode()).hexdigest()}</aside><article><h1>{self.title}"
            f"</h1><p class=lead>{self.lead}</p><time>{_stamp(self.published)}</time>{body}"
            "</article></body></html>"
        ).encode()


class Site:
    """The simulated site: stories, and the random process that changes them."""

    def __init__(self, rng: random.Random, vocab: list[str], size: int) -> None:
        self.rng = rng
        self.vocab = vocab
        self.size = size  # the pages the rates of new stories are per
        self.stories: dict[str, Story] = {}
        self.live: list[str] = []  # URLs of live stories (order irrelevant; swap-removed)
        self.slots: dict[str, int] = {}  # url -> index in `live`
        self.listed: list[str] = []  # URLs the listings show since the last run read them
        self.serial = 0
        self.pending: set[str] = set()  # stories with follow-up edits or a return ahead

    # -- text ------------------------------------------------------------------------------
    def sentence(self, topic: list[str], words: int) -> str:
        rng = self.rng
        out = [rng.choice(topic) if rng.random() < 0.6 else rng.choice(FUNCTION_WORDS)]
        out += [rng.choice(topic) if rng.random() < 0.6 else rng.choice(FUNCTION_WORDS)
                for _ in range(words - 1)]  # fmt: skip
        return " ".join(out).capitalize() + "."

    def paragraph(self, topic: list[str]) -> str:
        return " ".join(
            self.sentence(topic, self.rng.randint(6, 14)) for _ in range(self.rng.randint(2, 4))
        )

    # -- the live set ----------------------------------------------------------------------
    def _go_live(self, url: str) -> None:
        self.slots[url] = len(self.live)
        self.live.append(url)

    def _leave(self, url: str) -> None:
        i = self.slots.pop(url)
        last = self.live.pop()
        if i < len(self.live):
            self.live[i] = last
            self.slots[last] = i

    def _url(self, lang: str, topic: list[str]) -> str:
        self.serial += 1
        slug = "-".join(self.rng.sample(topic, 3)) + f"-{self.serial}"
        return f"{BASE_URL}/{lang}/{SECTIONS[lang]}/{slug}"

    # -- events ----------------------------------------------------------------------------
    def publish(self, at: datetime, *, fresh: bool = True) -> Story:
        """A new story (`fresh`: with its follow-up edits ahead; else one of the site's past)."""
        rng = self.rng
        lang = rng.choices(list(SECTIONS), weights=(6, 2, 2))[0]
        if self.live and rng.random() < CROSS_POSTS:
            source = self.stories[rng.choice(self.live)]
            story = Story(
                self._url(source.lang, source.topic), source.lang, source.topic, source.title,
                source.lead, list(source.paragraphs), list(source.categories), source.published,
                source.updated,
            )  # fmt: skip
        else:
            topic = rng.sample(self.vocab, 25)
            story = Story(
                self._url(lang, topic), lang, topic,
                " ".join(rng.choice(topic) for _ in range(rng.randint(5, 9))).capitalize(),
                self.sentence(topic, rng.randint(15, 25)),
                [self.paragraph(topic) for _ in range(rng.randint(5, 9))],
                sorted(rng.sample(CATEGORIES, rng.randint(1, 2))), at, at,
            )  # fmt: skip
            gap = 0.0
            for _ in range(poisson(rng, FOLLOW_UPS) if fresh else 0):
                gap += rng.expovariate(1 / FOLLOW_UP_DAYS)
                story.follow_ups.append(at + timedelta(days=gap))
        self.stories[story.url] = story
        self._go_live(story.url)
        self.listed.append(story.url)
        if story.follow_ups:
            self.pending.add(story.url)
        return story

    def edit(self, story: Story, at: datetime) -> None:
        rng, paragraphs = self.rng, story.paragraphs
        roll = rng.random()
        if roll < 0.5:  # a sentence rewritten
            i = rng.randrange(len(paragraphs))
            sentences = paragraphs[i].split(". ")
            sentences[rng.randrange(len(sentences))] = self.sentence(story.topic, 10).rstrip(".")
            paragraphs[i] = ". ".join(sentences)
        elif roll < 0.75:  # a paragraph added (an update to the story)
            paragraphs.insert(rng.randint(0, len(paragraphs)), self.paragraph(story.topic))
        elif roll < 0.9:  # the title or the lead reworded
            if rng.random() < 0.5:
                story.title = self.sentence(story.topic, rng.randint(5, 9)).rstrip(".")
            else:
                story.lead = self.sentence(story.topic, rng.randint(15, 25))
        else:
            story.categories = sorted(rng.sample(CATEGORIES, rng.randint(1, 2)))
        story.revision += 1
        story.updated = at

    def remove(self, story: Story, at: datetime) -> None:
        self._leave(story.url)
        story.status = "removed"
        if self.rng.random() < COMES_BACK:
            story.back_at = at + timedelta(days=self.rng.expovariate(1 / 15))
            self.pending.add(story.url)

    def move(self, story: Story, at: datetime) -> None:
        """The story gets a new URL; the old one answers 301 there."""
        new = Story(
            self._url(story.lang, story.topic), story.lang, story.topic, story.title,
            story.lead, story.paragraphs, story.categories, story.published, at,
            revision=story.revision, noise=story.noise + 1,
        )  # fmt: skip
        self._leave(story.url)
        story.status, story.moved_to = "moved", new.url
        self.stories[new.url] = new
        self._go_live(new.url)
        if self.rng.random() < MOVE_LISTED:
            self.listed.append(new.url)

    def advance(self, start: datetime, end: datetime) -> None:
        """What happens on the site between two runs."""
        rng = self.rng
        days = (end - start).total_seconds() / 86400
        busy = activity(start)
        live = len(self.live)

        def when() -> datetime:
            return start + (end - start) * rng.random()

        for _ in range(poisson(rng, NEW_RATE * self.size * days * busy)):
            self.publish(when())
        for _ in range(poisson(rng, EDIT_RATE * live * days * busy)):
            self.edit(self.stories[rng.choice(self.live)], when())
        for _ in range(poisson(rng, NOISE_RATE * live * days)):
            self.stories[rng.choice(self.live)].noise += 1
        for _ in range(poisson(rng, REMOVE_RATE * live * days)):
            self.remove(self.stories[rng.choice(self.live)], when())
        for _ in range(poisson(rng, MOVE_RATE * live * days)):
            self.move(self.stories[rng.choice(self.live)], when())
        for url in list(self.pending):
            story = self.stories[url]
            while story.follow_ups and story.follow_ups[0] < end:
                if story.status == "live":
                    self.edit(story, story.follow_ups[0])
                story.follow_ups.pop(0)
            if story.back_at and story.back_at < end:
                story.status, story.back_at = "live", None
                self._go_live(url)
                self.listed.append(url)  # back in the listings
            if not story.follow_ups and not story.back_at:
                self.pending.discard(url)

    def read_listings(self) -> list[str]:
        """The URLs the listings showed since the last run read them."""
        urls, self.listed = self.listed, []
        return urls


# -- the crawl: what a spider would yield for each request, into the real item pipeline ------
class _Stats(dict[str, Any]):
    """The part of Scrapy's stats collector the item pipeline and a run's summary use."""

    def get_value(self, key: str, default: Any = None) -> Any:
        return self.get(key, default)

    def set_value(self, key: str, value: Any) -> None:
        self[key] = value

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self[key] = self.get(key, start) + count

    def get_stats(self) -> dict[str, Any]:
        return dict(self)


class _Spider:
    """The news spider as the pipeline sees it: a kind, and asking a URL again in its run."""

    name = kind = "news"

    def __init__(self) -> None:
        self.run_id: int | None = None
        self.asked: list[str] = []

    def recheck(self, url: str) -> None:
        self.asked.append(url)


class Crawler:
    """One run of the news spider over the simulated site."""

    def __init__(self, archive: Any, config: Any, site: Site, rng: random.Random, budget: int):
        from pipeline.scrapy_pipeline import ArchivePipeline

        self.archive, self.config, self.site, self.rng, self.budget = (
            archive, config, site, rng, budget,
        )  # fmt: skip
        self.stats = _Stats()
        self.spider = _Spider()
        self.pipeline = ArchivePipeline(archive, config)
        self.pipeline.crawler = SimpleNamespace(stats=self.stats, spider=self.spider, engine=None)
        self.requested: set[str] = set()
        self.errors = BAD_RUN_ERRORS if rng.random() < BAD_RUNS else FETCH_ERRORS

    def count(self, key: str) -> None:
        self.stats.inc_value(key)

    def fetch(self, url: str, now: str, moved_from: str | None = None) -> Iterator[Any]:
        """The items of one request for a content page, as spiders.base yields them."""
        from aaltowatch.core.items import Checked, CheckOutcome, Gone, Unchanged

        self.requested.add(url)
        self.count("downloader/request_count")
        if self.rng.random() < self.errors:  # a timeout or a 503 after retries
            self.count("aaltowatch/errors")
            yield Checked(url)
            return
        self.count("downloader/response_count")
        story = self.site.stories.get(url)
        if story is None or story.status == "removed":
            yield Gone(url, 404)
        elif story.status == "moved":
            assert story.moved_to is not None
            if self.archive.pages.page(url) is None:
                yield Checked(url, CheckOutcome.MOVED, 301)
            yield from self.fetch(story.moved_to, now, moved_from or url)
        else:
            info = self.archive.fetches.fetch_info(url)
            record = {"url": url, "fetched_at": now, "etag": story.etag, "last_modified": None}
            if moved_from is None and info and info["raw_sha256"] and info["etag"] == story.etag:
                self.count("downloader/response_status_count/304")
                fetch = {**record, "status": 304}
                yield Unchanged(
                    url, "304", fetch=fetch,
                    parse=lambda: iter([self.page_item(story, now, fetch, None)]),
                )  # fmt: skip
                return
            body = story.html()
            fetch = {
                **record, "status": 200, "body": body, "content_type": "text/html; charset=UTF-8",
                "sha256": hashlib.sha256(body).hexdigest(),
            }  # fmt: skip
            yield self.page_item(story, now, fetch, moved_from)

    def page_item(
        self, story: Story, now: str, fetch: dict[str, Any], moved_from: str | None
    ) -> Any:
        from pages.article import PageItem
        from pages.fields import EXTRACTED_FIELDS

        return PageItem(
            url=story.url, kind="news", lang=story.lang, title=story.title, lead=story.lead,
            body="\n\n".join(story.paragraphs),
            body_html="".join(f"<p>{p}</p>" for p in story.paragraphs),
            published=_stamp(story.published), updated=_stamp(story.updated),
            categories=list(story.categories), fetched_at=now, http_status=200,
            raw_sha256=fetch.get("sha256"), fetched_url=story.url, moved_from=moved_from,
            extraction=dict.fromkeys(EXTRACTED_FIELDS, "selector"), fetch=fetch,
        )  # fmt: skip

    def run(self, at: datetime, clock: Any) -> Any:
        """One run, started, crawled, summarised and finished as a crawl does it."""
        from aaltowatch.core import planner
        from aaltowatch.crawl import _summarise

        archive, site, config = self.archive, self.site, self.config
        clock.move_to(at)
        self.pipeline.open_spider(self.spider)
        tick = 0

        def now() -> str:
            nonlocal tick
            tick += 2  # a request every 2 seconds
            clock.move_to(at + timedelta(seconds=tick))
            return _stamp(at + timedelta(seconds=tick))

        for lang, section in SECTIONS.items():  # the listings, kept as the middleware keeps them
            body = f"<ul>{' '.join(site.listed[-20:])}</ul>{self.rng.random()}".encode()
            archive.fetches.record_fetch(
                f"{BASE_URL}/{lang}/{section}", status=200, fetched_at=now(), body=body,
                sha256=hashlib.sha256(body).hexdigest(), content_type="text/html",
            )  # fmt: skip
            self.count("downloader/request_count")
        self.stats.set_value("aaltowatch/plan/teasers", 20 * len(SECTIONS))
        wanted = []
        for url in site.read_listings():  # new (or returning) pages are fetched at once
            page = archive.pages.page(url)
            if page is None or page["status"] == "removed":
                wanted.append(url)
        pages = [planner.PageView.from_row(r) for r in archive.plan.revisit_candidates("news")]
        wanted += planner.select_revisits(
            pages,
            now=at,
            budget=self.budget,
            policy=planner.RevisitPolicy(config.revisit_policy),
            max_days=config.revisit_max_days,
            min_value=config.revisit_min_value,
            recent_max_days=config.revisit_recent_max_hours / 24.0,
            runs_per_day=float(RUNS_PER_DAY),
            run_limit=self.budget,
            fill_share=config.revisit_fill_share,
        )
        while wanted or self.spider.asked:
            url = wanted.pop(0) if wanted else self.spider.asked.pop(0)
            if url in self.requested:
                continue
            for item in self.fetch(url, now()):
                self.pipeline.process_item(item)
        self.pipeline.close_spider(self.spider)
        self.stats.set_value("finish_reason", "finished")
        return _summarise(archive, self.pipeline.crawler, config)


def after_crawl(archive: Any, config: Any, summary: Any) -> None:
    """The run's steps after the crawl as `run --once` records them; of their work only what
    the archive keeps is done (the watches matched: the feeds step's first call)."""
    from aaltowatch.steps import AFTER_CRAWL, Step, Steps
    from aaltowatch.watches import match_watches

    steps = Steps.crawled(config, [summary])
    for step in AFTER_CRAWL:
        if step is Step.FEEDS:
            steps.run(step, lambda: match_watches(archive, config.watches), archive)
        else:
            steps.run(step, lambda: None, archive)
    steps.record(archive)


def generate_age(
    path: Path,
    days: float,
    *,
    pages: int = 20_000,
    scale: float = 0.0125,
    seed: int = 13,
    log: Callable[[str], None] = lambda _m: None,
) -> dict[str, int]:
    """Replay `days` of operation over a site of `pages` x `scale` pages into a new archive at
    `path` (replacing it); returns its row counts. The archive ends at archive_gen.START +
    `days`, as archive_gen's does, so archive_age times both the same way."""
    import time_machine

    from bench.archive_age import config_for, watch_words
    from storage import open_archive

    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    rng = random.Random(seed)
    size = max(int(pages * scale), 50)
    budget = max(round(BUDGET_SHARE * size / RUNS_PER_DAY), 10)
    config = config_for(path, path.parent / "replay-feeds", None, watches=True)
    site = Site(rng, vocabulary(watch_words()), size)
    # The site when watching starts: stories of the 3 years before, fewer by those expected to
    # arrive while it is watched (every age ends with about `size` stories).
    for _ in range(max(size - round(NEW_RATE * size * days), size // 2)):
        site.publish(START - timedelta(days=rng.uniform(0, 1095)), fresh=False)
    n_runs = max(int(days * RUNS_PER_DAY), 1)
    interval = timedelta(days=1 / RUNS_PER_DAY)
    alerts = 0
    with time_machine.travel(START, tick=False) as clock:
        archive = open_archive(path)
        for k in range(n_runs):
            at = START + k * interval
            if k:
                site.advance(at - interval, at)
            if k and k % RUNS_PER_DAY == 0:  # the archive's upkeep on closing, once a day
                archive.close()
                archive = open_archive(path)
            summary = Crawler(archive, config, site, rng, budget).run(at, clock)
            after_crawl(archive, config, summary)
            alerts += len(summary.alerts)
            if k % (RUNS_PER_DAY * 30) == 0 or k == n_runs - 1:
                log(f"replay: run {k + 1} of {n_runs} ({_stamp(at)}), {len(site.live)} live"
                    f" stories, {alerts} run alerts so far")  # fmt: skip
        archive.close()
    with open_archive(path) as archive:
        return {
            table: archive.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("pages", "versions", "changes", "checks", "runs", "alerts",
                          "responses", "watch_matches")
        }  # fmt: skip
