"""`make bench`: crawl, recrawl, feeds, search and memory figures as JSON (bench/RESULTS.json).

Everything runs against 127.0.0.1: a generated 5,000-article site served by a separate process
(bench/server.py), and a generated 20,000-page archive. Working files go to bench/work/.
"""

from __future__ import annotations

import json
import os
import platform
import random
import resource
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, NamedTuple

from aaltowatch.core.text import utc_now
from bench import archive_gen, sitegen
from bench.server import server_process

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
ARTICLES = int(os.environ.get("BENCH_ARTICLES", "5000"))
SCHEDULER_CYCLES = 100
OTHER_BENCHES = ("freshness", "archive_age")  # their keys in RESULTS.json, kept as they are
CRAWL_ENV = {
    "AALTOWATCH_CONCURRENT_REQUESTS_PER_DOMAIN": "16",
    "AALTOWATCH_CRAWL_DELAY_CAP": "0",
    "AALTOWATCH_DOWNLOAD_DELAY": "0",
    # Every page every run, without a budget: under the default 900 requests the "full crawl"
    # stored a sixth of the site and the "recrawl" went on with the backfill.
    "AALTOWATCH_REVISIT_POLICY": "all",
}


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def site_server(root: Path) -> AbstractContextManager[str]:
    """The generated site's server in its own process; yields its base URL."""
    return server_process(str(root))


def server_counts(url: str, reset: bool = False) -> dict[str, int]:
    from urllib.request import urlopen

    with urlopen(f"{url}/__reset" if reset else f"{url}/__stats") as response:
        return json.loads(response.read())


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a running process, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children_cpu_s() -> float:
    """User + system CPU seconds of every child reaped so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Run(NamedTuple):
    seconds: float
    cpu_s: float  # user + system of the child: on a shared machine wall time moves with load
    peak_rss_mb: float
    out: str


def timed_run(cmd: list[str], env: dict[str, str] | None = None) -> Run:
    """A child's wall and CPU time, peak RSS and stdout; RSS sampled until it exits."""
    cpu_before = children_cpu_s()
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=HERE.parent,
    )
    peak = [0.0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], peak_rss_mb(proc.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    sampler.join()
    seconds = time.perf_counter() - started
    cpu_s = children_cpu_s() - cpu_before
    if proc.returncode not in (0, 3):
        raise RuntimeError(f"{cmd} exited {proc.returncode}:\n{err[-3000:]}")
    return Run(seconds, cpu_s, peak[0], out)


def crawl_cmd(db: Path, url: str) -> list[str]:
    return [sys.executable, "-m", "aaltowatch.cli", "--db", str(db), "--base-url", url,
            "crawl", "--spider", "news", "--no-progress"]  # fmt: skip


def count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(sql).fetchone()[0])


def crawl_figures(results: dict[str, Any], recrawls: bool = True) -> None:
    root = WORK / f"site-v2-{ARTICLES}"  # bump when sitegen changes
    if not (root / "manifest.json").exists():
        log(f"generating a {ARTICLES}-article site in {root}")
        sitegen.write_site(root, ARTICLES)
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    articles = sitegen.article_paths(manifest)
    urls_file = WORK / "articles.txt"
    urls_file.write_text("\n".join(articles) + "\n")
    db = WORK / "crawl.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    with site_server(root) as url:
        log("full crawl")
        full = timed_run(crawl_cmd(db, url), CRAWL_ENV)
        stored = count(db, "SELECT COUNT(*) FROM pages")
        log(f"full crawl: {stored} pages in {full.seconds:.1f}s ({full.cpu_s:.1f}s CPU); bare")
        bare = timed_run(
            [sys.executable, "-m", "bench.bare_spider", url, str(urls_file)], CRAWL_ENV
        )
        bare_pages = int(bare.out.split()[-1])
        ours_pps, bare_pps = stored / full.seconds, bare_pages / bare.seconds
        ours_cpu_ms, bare_cpu_ms = 1000 * full.cpu_s / stored, 1000 * bare.cpu_s / bare_pages
        results.update(
            {
                "crawl_pages": stored,
                "crawl_s": round(full.seconds, 2),
                "crawl_pages_per_s": round(ours_pps, 1),
                "bare_pages_per_s": round(bare_pps, 1),
                "crawl_ratio_vs_bare": round(ours_pps / bare_pps, 3),
                "crawl_cpu_ms_per_page": round(ours_cpu_ms, 2),
                "bare_cpu_ms_per_page": round(bare_cpu_ms, 2),
                "crawl_cpu_ratio_vs_bare": round(bare_cpu_ms / ours_cpu_ms, 3),
                "crawl_peak_rss_mb": round(full.peak_rss_mb, 1),
            }
        )
        if recrawls:
            recrawl_figures(results, db, url, full.seconds)


def recrawl_figures(results: dict[str, Any], db: Path, url: str, full_s: float) -> None:
    versions = count(db, "SELECT COUNT(*) FROM versions")
    server_counts(url, reset=True)
    log("recrawl (default: always revalidate)")
    re_s = timed_run(crawl_cmd(db, url), CRAWL_ENV).seconds
    answers = server_counts(url, reset=True)
    article_requests = sum(v for k, v in answers.items() if k.startswith("article "))
    new_versions = count(db, "SELECT COUNT(*) FROM versions") - versions
    log("recrawl with the sitemap lastmod skip (24 h)")
    skip_s = timed_run(
        crawl_cmd(db, url), {**CRAWL_ENV, "AALTOWATCH_LASTMOD_SKIP_MAX_AGE_H": "24"}
    ).seconds
    skip_answers = server_counts(url)
    results.update(
        {
            "recrawl_s": round(re_s, 2),
            "recrawl_ratio": round(re_s / full_s, 3),
            "recrawl_304_share": round(answers.get("article 304", 0) / article_requests, 4)
            if article_requests
            else 0.0,
            "recrawl_new_versions": new_versions,
            "recrawl_lastmod_skip_s": round(skip_s, 2),
            "recrawl_lastmod_skip_ratio": round(skip_s / full_s, 3),
            "recrawl_lastmod_skip_article_requests": sum(
                v for k, v in skip_answers.items() if k.startswith("article ")
            ),
        }
    )


def archive_figures(results: dict[str, Any]) -> None:
    from feeds.build import build_feeds
    from storage import open_archive

    db = WORK / "archive.db"
    log("generating a 20,000-page / 100,000-version archive")
    archive_gen.generate(db)
    out = WORK / "feeds"
    with open_archive(db) as archive:
        started = time.perf_counter()
        build_feeds(archive, out, max_entries=50)
        results["feeds_build_s"] = round(time.perf_counter() - started, 3)
    rng = random.Random(1)
    content = archive_gen.VOCAB[50:2000]  # past the 50 stop-word-like most frequent words
    queries = {
        "search_p95_ms": [" ".join(rng.sample(content, 1 + i % 2)) for i in range(200)],
        "search_p95_ms_common_words": [
            " ".join(rng.choices(archive_gen.VOCAB, cum_weights=archive_gen.CUM, k=1 + i % 2))
            for i in range(200)
        ],
    }
    with open_archive(db, readonly=True) as archive:
        archive.search.pages("warmup")
        for key, batch in queries.items():
            times = []
            for query in batch:
                started = time.perf_counter()
                archive.search.pages(query, limit=20)
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            results[key] = round(times[int(len(times) * 0.95) - 1], 2)


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def scheduler_figures(results: dict[str, Any]) -> None:
    """Parent-side RSS over scheduler cycles: CrawlJobs.run spawning and logging a child.

    Five real `run --once` cycles against a tiny site warm the code paths up; the measured
    cycles run a no-op child, since the parent's side (spawn, wait, log) does not depend on
    what the child does and 100 real crawls would take minutes.
    """
    import logging

    import scheduler
    from aaltowatch.core.config import load_config

    root = WORK / "site-24"
    if not (root / "manifest.json").exists():
        sitegen.write_site(root, 24)
    logging.basicConfig(level=logging.INFO, stream=open(os.devnull, "w"))  # noqa: SIM115
    with site_server(root) as url:
        config = load_config(
            overrides={"db": WORK / "sched.db", "base_url": url, "feeds_dir": WORK / "sched"},
            environ={**os.environ, **CRAWL_ENV},
        )
        jobs = scheduler.CrawlJobs(config, None)
        saved = os.dup(1), os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        real = scheduler.crawl_command
        try:
            for _ in range(5):
                jobs.run("news")
            scheduler.crawl_command = lambda *args: [sys.executable, "-S", "-c", "pass"]
            for _ in range(10):
                jobs.run("news")
            before = rss_kb()
            for _ in range(SCHEDULER_CYCLES):
                jobs.run("news")
            after = rss_kb()
        finally:
            scheduler.crawl_command = real
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(devnull)
    results["scheduler_rss_growth"] = round((after - before) / before, 4)
    results["scheduler_rss_kb"] = [before, after]


def main(argv: list[str]) -> int:
    WORK.mkdir(exist_ok=True)
    results: dict[str, Any] = {}
    if argv == ["--only", "crawl"]:  # the crawl ratio alone, printed, RESULTS.json untouched
        crawl_figures(results, recrawls=False)
        print(json.dumps(results, indent=2))
        return 0
    if argv:
        print("usage: python -m bench [--only crawl]", file=sys.stderr)
        return 2
    started = time.perf_counter()
    scheduler_figures(results)  # first: a fresh parent, as the scheduler is
    crawl_figures(results)
    archive_figures(results)
    results["machine"] = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    results["date"] = utc_now()
    results["bench_s"] = round(time.perf_counter() - started, 1)
    text = json.dumps(results, indent=2)
    stored = HERE / "RESULTS.json"
    if stored.exists():  # keep what bench.freshness and bench.archive_age wrote
        previous = json.loads(stored.read_text())
        results.update({k: v for k, v in previous.items() if k.startswith(OTHER_BENCHES)})
    stored.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
