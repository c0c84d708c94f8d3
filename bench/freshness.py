"""`make bench-freshness`: how fresh aaltowatch keeps the archive of a living site, at what cost.

A :class:`bench.livesite.LiveSite` (default 20,000 news pages, 14 days) is served by its own
process (``bench.server --live``). Each policy's crawls run in one worker process, one reactor
(``aaltowatch.crawl.run_steps``), with the whole process's clock moved by ``time_machine`` to
each scheduled run (news every 30 min, partnerships daily at 06:15). A run is refused, as the
lock would refuse it, while the previous one would still be going at the real site's pace
(requests x 1 s). Every ground-truth event is matched to the first run whose archive changes
show it; the figures go to ``bench/RESULTS.json`` under ``freshness`` and are printed.

Run: ``python -m bench.freshness [--pages N] [--days D] [--policy all,round_robin,adaptive]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.request import urlopen

from bench.livesite import DAY, EPOCH, EXPECTED_CHANGE, Event, Kind, LiveSite
from bench.server import server_process

HERE = Path(__file__).resolve().parent
WORK = Path(os.environ.get("FRESHNESS_WORK", HERE / "work" / "freshness"))
POLICIES = ("all", "round_robin", "adaptive")
REQUEST_KINDS = ("article", "listing", "sitemap", "feed", "partnership", "robots", "other")
POLITENESS_S = 1.0  # the real site's delay per request
INTERVAL = timedelta(minutes=30)
PARTNERSHIPS_AT = timedelta(hours=6, minutes=15)
CONTENT_CHANGES = ("new", "modified", "moved", "restored")  # a stored version after an edit


def log(message: str) -> None:
    print(f"[freshness] {message}", file=sys.stderr, flush=True)


# -- the site server ------------------------------------------------------------------------------
def live_server(pages: int, days: int, seed: int, rare: float = 1.0) -> AbstractContextManager[str]:
    """The living site's server in its own process; yields its base URL."""
    return server_process(
        "--live", "--pages", str(pages), "--days", str(days), "--seed", str(seed),
        "--rare", str(rare),
    )  # fmt: skip


def control(url: str, path: str) -> dict[str, int]:
    with urlopen(f"{url}{path}") as response:
        return json.loads(response.read())


# -- the worker: one policy's runs in one process -------------------------------------------------
def planner_keys() -> set[str]:
    from aaltowatch.core.config import Config

    return {f.name for f in dataclasses.fields(Config)} & {"revisit_policy", "max_requests_per_run"}


def schedule(start: datetime, runs: int, news_only: bool = False) -> list[tuple[datetime, str]]:
    """News every interval from `start`, partnerships daily at 06:15 (and after the first run)."""
    plan = [(start + INTERVAL * k, "news") for k in range(runs)]
    if news_only:
        return plan
    end = start + INTERVAL * runs
    day = start.replace(hour=0, minute=0, second=0) + PARTNERSHIPS_AT
    plan.append((start, "partnerships"))
    while day < end:
        if day > start:
            plan.append((day, "partnerships"))
        day += DAY
    return sorted(plan, key=lambda p: (p[0], p[1] != "news"))


def worker(args: argparse.Namespace) -> int:
    """Run the schedule in this process; one JSON line per run (or refusal) to `args.out`."""
    import logging

    import time_machine

    from aaltowatch.core.config import load_config
    from aaltowatch.crawl import CrawlStep, run_steps
    from storage import open_archive

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    overrides: dict[str, Any] = {
        "db": Path(args.db), "base_url": args.url, "feeds_dir": Path(args.db).with_suffix(".feeds"),
    }  # fmt: skip
    keys = planner_keys()
    if "revisit_policy" in keys:
        overrides["revisit_policy"] = args.policy
        overrides["max_requests_per_run"] = args.budget
    elif args.policy != "all":
        raise SystemExit(f"this aaltowatch has no revisit_policy; cannot run {args.policy!r}")
    config = load_config(
        overrides=overrides, environ={"AALTOWATCH_CONCURRENT_REQUESTS_PER_DOMAIN": "16"}
    )
    plan = schedule(datetime.fromisoformat(args.start), args.runs, args.news_only)
    out = open(args.out, "a", encoding="utf-8")  # noqa: SIM115 (closed when the reactor stops)
    state: dict[str, Any] = {"busy_until": datetime.fromisoformat(args.start) - DAY}

    def before(t: datetime) -> None:
        traveller = time_machine.travel(t, tick=True)
        traveller.start()
        state["traveller"], state["t"], state["real"] = traveller, t, time.perf_counter()
        control(args.url, f"/__time?t={t.timestamp()}&reset=1")

    def after(t: datetime, spider: str, summaries: list[Any]) -> None:
        counts = control(args.url, "/__stats?reset=1")
        requests = sum(counts.values())
        if spider == "news":  # the daily partnerships run is not what refuses news runs
            state["busy_until"] = t + timedelta(seconds=requests * POLITENESS_S)
        record = {
            "t": t.isoformat(), "spider": spider, "run_id": summaries[0].run_id,
            "requests": requests, "counts": counts, "real_s": time.perf_counter() - state["real"],
            "finish_reason": summaries[0].finish_reason,
        }  # fmt: skip
        state["traveller"].stop()
        out.write(json.dumps(record) + "\n")
        out.flush()

    def steps() -> Iterator[CrawlStep]:
        for t, spider in plan:
            if spider == "news" and state["busy_until"] > t:
                out.write(
                    json.dumps({"t": t.isoformat(), "spider": spider, "refused": True}) + "\n"
                )
                continue
            yield CrawlStep(
                config, (spider,),
                before=lambda t=t: before(t),
                after=lambda s, t=t, spider=spider: after(t, spider, s),
            )  # fmt: skip

    with open_archive(config.db) as archive:
        run_steps(steps(), archive)  # type: ignore[arg-type]  (a lazy sequence: refusals)
    out.close()
    return 0


def run_worker(
    db: Path,
    url: str,
    policy: str,
    start: datetime,
    runs: int,
    budget: int,
    out: Path,
    kill_after_requests: int = 0,
    news_only: bool = False,
) -> float:
    """The worker as a child; SIGKILLed once the site served `kill_after_requests` (if > 0)."""
    cmd = [sys.executable, "-m", "bench.freshness", "worker", "--db", str(db), "--url", url,
           "--policy", policy, "--start", start.isoformat(), "--runs", str(runs),
           "--budget", str(budget), "--out", str(out)]  # fmt: skip
    if news_only:
        cmd.append("--news-only")
    started = time.perf_counter()
    with open(out.with_suffix(".log"), "a") as err:
        proc = subprocess.Popen(cmd, cwd=HERE.parent, stderr=err)
        if kill_after_requests:
            while proc.poll() is None:
                if sum(control(url, "/__stats").values()) >= kill_after_requests:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
                time.sleep(0.02)
        if proc.wait() not in (0, -signal.SIGKILL):
            raise RuntimeError(f"worker failed ({proc.returncode}); see {out.with_suffix('.log')}")
    return time.perf_counter() - started


def read_runs(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# -- scoring ---------------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def score(
    db: Path, events: list[Event], runs: list[dict[str, Any]], after_run: int
) -> dict[str, Any]:
    """Match events to the first run that recorded them as expected; the rest recorded is false
    unless a real event touched its URL before (then it is reported as recorded otherwise)."""
    done = [r for r in runs if not r.get("refused")]
    by_id = {r["run_id"]: r for r in done}
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT id, run_id, url, change FROM changes WHERE run_id > ? ORDER BY id", (after_run,)
        ).fetchall()
    changes: dict[str, list[tuple[datetime, datetime, int, str]]] = defaultdict(list)
    for change_id, run_id, url, change in rows:
        run = by_id.get(run_id)
        if run is None:
            continue
        start = datetime.fromisoformat(run["t"])
        end = start + timedelta(seconds=run["requests"] * POLITENESS_S)
        changes[url].append((start, end, change_id, change))
    last_start = max((datetime.fromisoformat(r["t"]) for r in done), default=EPOCH)
    matched: set[int] = set()
    delays: dict[str, list[float]] = defaultdict(list)
    eligible: Counter[str] = Counter()
    for event in events:
        if event.at > last_start:
            continue
        eligible[event.kind] += 1
        expected = EXPECTED_CHANGE[event.kind]
        accept = CONTENT_CHANGES if expected == "modified" else (expected,)
        for start, end, change_id, change in changes.get(event.url, ()):
            if start >= event.at and change in accept:
                delays[event.kind].append((end - event.at).total_seconds())
                matched.add(change_id)
                break
    # A change not matched, at a URL a real event touched before its run (e.g. a moved page's
    # new URL first seen as a duplicate of the old one), is a real event recorded another way.
    touched: dict[str, datetime] = {}
    for event in events:
        for url in (event.url, event.moved_from):
            if url and url not in touched:
                touched[url] = event.at
    false: Counter[str] = Counter()
    otherwise: Counter[str] = Counter()
    for change_id, run_id, url, change in rows:
        if run_id in by_id and change_id not in matched:
            start = datetime.fromisoformat(by_id[run_id]["t"])
            bucket = otherwise if url in touched and touched[url] <= start else false
            bucket[change] += 1
    per_kind = {}
    for kind in Kind:
        d = delays.get(kind, [])
        per_kind[kind.value] = {
            "events": eligible[kind],
            "detected": len(d),
            "share": round(len(d) / eligible[kind], 4) if eligible[kind] else None,
            "p50_h": hours(pct(d, 0.5)),
            "p95_h": hours(pct(d, 0.95)),
            "max_h": hours(max(d) if d else None),
        }
    edits = [k for k in Kind if EXPECTED_CHANGE[k] == "modified"]
    return {
        "events": per_kind,
        "edits_detected_share": round(
            sum(len(delays.get(k, [])) for k in edits) / max(1, sum(eligible[k] for k in edits)), 4
        ),
        "all_detected_share": round(
            sum(map(len, delays.values())) / max(1, sum(eligible.values())), 4
        ),
        "false_events": dict(false),
        "real_events_recorded_otherwise": dict(otherwise),
        "false_removals": false.get("removed", 0),
        "noise_changes": false.get("modified", 0),
    }


def cost(runs: list[dict[str, Any]], days: float) -> dict[str, Any]:
    """Requests per run and per day, by kind, from the site's access log; politeness time."""
    done = [r for r in runs if not r.get("refused")]
    news = [r for r in done if r["spider"] == "news"]
    by_kind: Counter[str] = Counter()
    for run in done:
        for key, n in run["counts"].items():
            by_kind[key.split()[0]] += n
    per_run = [r["requests"] for r in news]
    return {
        "runs": len(news),
        "refused_runs": sum(1 for r in runs if r.get("refused") and r["spider"] == "news"),
        "partnership_runs": len(done) - len(news),
        "requests_per_run_mean": round(sum(per_run) / max(1, len(per_run)), 1),
        "requests_per_run_max": max(per_run, default=0),
        "requests_per_day": round(sum(r["requests"] for r in done) / days),
        "requests_per_day_by_kind": {
            k: round(by_kind[k] / days) for k in REQUEST_KINDS if by_kind[k]
        },
        "politeness_s_per_run_max": max(per_run, default=0) * POLITENESS_S,
        "politeness_share_of_interval_max": round(
            max(per_run, default=0) * POLITENESS_S / INTERVAL.total_seconds(), 3
        ),
        "real_s_per_run_mean": round(sum(r["real_s"] for r in news) / max(1, len(news)), 2),
    }


def markdown(results: dict[str, Any]) -> str:
    """The policies side by side, as the tables in bench/RESULTS.md."""
    scored = {k: v for k, v in results["policies"].items() if "events" in v}
    names = list(scored)
    head = "| | " + " | ".join(names) + " |\n|---|" + "---|" * len(names) + "\n"
    rows = []
    for key in ("runs", "refused_runs", "requests_per_run_mean", "requests_per_run_max",
                "requests_per_day", "politeness_share_of_interval_max", "edits_detected_share",
                "all_detected_share", "false_removals", "noise_changes", "archive_mb_per_day",
                "real_s"):  # fmt: skip
        rows.append(f"| {key} | " + " | ".join(str(scored[n].get(key)) for n in names) + " |")
    for key in ("false_events", "real_events_recorded_otherwise"):
        rows.append(f"| {key} | " + " | ".join(str(scored[n].get(key)) for n in names) + " |")
    kinds = "| requests/day by kind | " + " | ".join(
        ", ".join(f"{k} {v}" for k, v in scored[n]["requests_per_day_by_kind"].items())
        for n in names
    )
    rows.append(kinds + " |")
    table = head + "\n".join(rows) + "\n\n"
    delays = "| event kind | " + " | ".join(f"{n}: events, found, p50/p95/max h" for n in names)
    delays += " |\n|---|" + "---|" * len(names) + "\n"
    for kind in Kind:
        cells = []
        for n in names:
            e = scored[n]["events"][kind.value]
            cells.append(f"{e['events']}, {e['detected']}, {e['p50_h']}/{e['p95_h']}/{e['max_h']}")
        delays += f"| {kind.value} | " + " | ".join(cells) + " |\n"
    return table + delays


# -- the bench -------------------------------------------------------------------------------------
def fresh_db(path: Path, seed_db: Path | None = None) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(path.with_suffix(".feeds"), ignore_errors=True)
    path.with_suffix(".jsonl").unlink(missing_ok=True)
    path.with_suffix(".log").unlink(missing_ok=True)
    if seed_db is not None:
        shutil.copyfile(seed_db, path)
    return path


def last_run_id(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM runs").fetchone()[0])


def pages_known(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM pages").fetchone()[0])


def first_feed(url: str, budget: int) -> dict[str, Any]:
    """A fresh install's first run (the default policy): do feeds exist after it?"""
    import feedparser

    from feeds.build import build_feeds
    from storage import open_archive

    db = fresh_db(WORK / "install.db")
    out = db.with_suffix(".jsonl")
    policy = "adaptive" if planner_keys() else "all"
    real = run_worker(db, url, policy, EPOCH, 1, budget, out)
    runs = [r for r in read_runs(out) if r.get("spider") == "news"]
    with open_archive(db) as archive:
        build_feeds(archive, db.with_suffix(".feeds"), max_entries=50)
    feed = db.with_suffix(".feeds") / "news-en.xml"
    entries = len(feedparser.parse(feed.read_bytes()).entries) if feed.exists() else 0
    requests = runs[0]["requests"] if runs else 0
    return {
        "policy": policy,
        "pages_after_first_run": pages_known(db),
        "news_en_feed_entries": entries,
        "first_run_requests": requests,
        "first_feed_after_h": round(requests * POLITENESS_S / 3600, 2),
        "real_s": round(real, 1),
    }


def sigkill(url: str, budget: int) -> dict[str, Any]:
    """Fresh install: run 1; run 2 SIGKILLed mid-way; run 3. Nothing lost, the plan continues."""
    db = fresh_db(WORK / "kill.db")
    out = db.with_suffix(".jsonl")
    policy = "adaptive" if planner_keys() else "all"
    run_worker(db, url, policy, EPOCH, 1, budget, out, news_only=True)
    first = pages_known(db)
    requests = read_runs(out)[-1]["requests"]
    control(url, "/__stats?reset=1")
    run_worker(db, url, policy, EPOCH + INTERVAL, 1, budget, out, requests // 2, news_only=True)
    killed = pages_known(db)
    run_worker(db, url, policy, EPOCH + 2 * INTERVAL, 1, budget, out, news_only=True)
    with sqlite3.connect(db) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        statuses = dict(
            conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall()
        )
    return {
        "policy": policy,
        "pages_after_run_1": first,
        "pages_after_killed_run_2": killed,
        "pages_after_run_3": pages_known(db),
        "integrity_check": integrity,
        "run_statuses": statuses,
        "killed_after_requests": requests // 2,
    }


def measure_policy(policy: str, site: LiveSite, seed_db: Path, runs: int, budget: int,
                   seed_mb: float, url: str | None) -> dict[str, Any]:  # fmt: skip
    """One policy's runs from a copy of the seeded archive; its cost and scores."""
    if url is None:
        with live_server(site.size, site.days, site.seed, site.rare) as own:
            return measure_policy(policy, site, seed_db, runs, budget, seed_mb, own)
    db = fresh_db(WORK / f"{policy}.db", seed_db)
    out = db.with_suffix(".jsonl")
    after = last_run_id(db)
    n = 1 if policy == "all" else runs
    log(f"{policy}: {n} runs")
    # `all` is measured once, on the seed's virtual day (its cost is the site's size)
    start = EPOCH - INTERVAL if policy == "all" else EPOCH
    real = run_worker(db, url, policy, start, n, budget, out, news_only=policy == "all")
    policy_runs = read_runs(out)
    figures = cost(policy_runs, n * INTERVAL / DAY)
    news = [r for r in policy_runs if r.get("spider") == "news" and not r.get("refused")]
    figures["requests_per_s"] = round(
        sum(r["requests"] for r in news) / max(1e-9, sum(r["real_s"] for r in news)), 1
    )
    figures["real_s"] = round(real, 1)
    figures["archive_mb"] = round(db.stat().st_size / 2**20, 1)
    if policy == "all":
        per_run = figures["requests_per_run_max"]
        busy = per_run * POLITENESS_S
        figures["note"] = "one measured run: its cost per run is the size of the site"
        by_kind: Counter[str] = Counter()
        for key, count in news[0]["counts"].items():
            by_kind[key.split()[0]] += count
        figures["requests_per_run_by_kind"] = dict(by_kind)
        del figures["requests_per_day"], figures["requests_per_day_by_kind"]
        figures["extrapolated"] = {
            "run_duration_h": hours(busy),
            "share_of_interval": round(busy / INTERVAL.total_seconds(), 2),
            "refused_share": round(1 - 1 / max(1, math.ceil(busy / INTERVAL.total_seconds())), 3),
            "requests_per_day_capacity": round(86_400 / POLITENESS_S),
            "requests_per_day_needed": per_run * 48,
        }
    else:
        figures.update(score(db, site.events, policy_runs, after))
        figures["archive_mb_per_day"] = round(
            (figures["archive_mb"] - seed_mb) / (n * INTERVAL / DAY), 1
        )
    log(f"{policy}: {json.dumps(figures)}")
    return figures


def rescore(args: argparse.Namespace) -> int:
    """Score again the archives and run logs in the work directory, without crawling."""
    results = json.loads(args.rescore.read_text())
    if not isinstance(results["seed"], int):  # older output: "seed" held the seed run (seed 1)
        results["seed_run"], results["seed"] = results["seed"], 1
    site = LiveSite(results["pages"], math.ceil(results["days"]), results["seed"], results["rare"])
    after = last_run_id(WORK / "seed.db")
    for policy, figures in results["policies"].items():
        if "events" in figures:
            runs = read_runs(WORK / f"{policy}.jsonl")
            figures.update(score(WORK / f"{policy}.db", site.events, runs, after))
    return report(results, args)


def margin(results: dict[str, Any]) -> dict[str, Any]:
    """Edit-detection delay, round robin against adaptive at the same budget (hours)."""
    rr, ad = (results["policies"].get(p, {}).get("events") for p in ("round_robin", "adaptive"))
    if not rr or not ad:
        return {}
    out = {}
    for kind in (k.value for k in Kind if EXPECTED_CHANGE[k] == "modified"):
        out[kind] = {
            q: {"round_robin": rr[kind][q], "adaptive": ad[kind][q]}
            for q in ("p50_h", "p95_h", "max_h")
        }
    return out


def report(results: dict[str, Any], args: argparse.Namespace) -> int:
    if found := margin(results):
        results["edit_delay_round_robin_vs_adaptive"] = found
    print(json.dumps(results, indent=2))
    if args.markdown:
        print(markdown(results))
    if args.write:
        path = HERE / "RESULTS.json"
        stored = json.loads(path.read_text()) if path.exists() else {}
        stored[args.key] = results
        path.write_text(json.dumps(stored, indent=2) + "\n", encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.freshness")
    sub = parser.add_subparsers(dest="command")
    w = sub.add_parser("worker", help="(internal) one policy's runs in this process")
    for name in ("--db", "--url", "--policy", "--start", "--out"):
        w.add_argument(name, required=True)
    w.add_argument("--runs", type=int, default=1)
    w.add_argument("--budget", type=int, default=0)
    w.add_argument("--news-only", action="store_true")
    parser.add_argument("--pages", type=int, default=20_000)
    parser.add_argument("--days", type=float, default=14)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--rare", type=float, default=1.0, help="x age-independent event rates (small sites)"
    )
    parser.add_argument("--policy", default=",".join(POLICIES), help="comma-separated")
    parser.add_argument("--budget", type=int, default=0, help="max_requests_per_run (0: derived)")
    parser.add_argument("--no-extras", action="store_true", help="skip first-feed and SIGKILL runs")
    parser.add_argument("--write", action="store_true", help="store figures in bench/RESULTS.json")
    parser.add_argument("--markdown", action="store_true", help="also print the tables")
    parser.add_argument("--key", default="freshness", help="where in RESULTS.json (--write)")
    parser.add_argument("--jobs", type=int, default=1, help="policies measured in parallel")
    parser.add_argument(
        "--rescore", type=Path, help="re-score the archives of a previous run (its printed JSON)"
    )
    parser.add_argument(
        "--reuse-seed",
        action="store_true",
        help="reuse the seeded archive of this size in bench/work (same crawler code only)",
    )
    args = parser.parse_args(argv)
    if args.command == "worker":
        return worker(args)
    if args.rescore:
        return rescore(args)
    policies = [p.strip() for p in args.policy.split(",") if p.strip()]
    if unknown := set(policies) - set(POLICIES):
        parser.error(f"unknown policy: {', '.join(sorted(unknown))}")
    WORK.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    days_int = math.ceil(args.days)
    site = LiveSite(args.pages, days_int, args.seed, args.rare)
    runs = int(args.days * DAY / INTERVAL)
    results: dict[str, Any] = {
        "pages": args.pages, "days": args.days, "seed": args.seed, "rare": args.rare,
        "runs_per_policy": runs,
        "interval_min": INTERVAL.total_seconds() / 60, "politeness_s_per_request": POLITENESS_S,
        "planner": sorted(planner_keys()), "budget": args.budget, "policies": {},
    }  # fmt: skip
    with live_server(args.pages, days_int, args.seed, args.rare) as url:
        log(f"{args.pages} pages, {len(site.events)} events over {days_int} days; seeding")
        seed_db = WORK / "seed.db"
        sidecar = seed_db.with_suffix(".json")
        key = {"pages": args.pages, "seed": args.seed}  # the start state: no events in it yet
        stored = json.loads(sidecar.read_text()) if sidecar.exists() else {}
        if args.reuse_seed and stored.get("key") == key and seed_db.exists():
            results["seed_run"] = stored["figures"] | {"reused": True}
        else:
            fresh_db(seed_db)
            sidecar.unlink(missing_ok=True)
            real = run_worker(
                seed_db, url, "all", EPOCH - 2 * INTERVAL, 1, 0, seed_db.with_suffix(".jsonl")
            )
            seed_news = next(
                r for r in read_runs(seed_db.with_suffix(".jsonl")) if r["spider"] == "news"
            )
            results["seed_run"] = {
                "requests": seed_news["requests"], "counts": seed_news["counts"],
                "pages": pages_known(seed_db), "real_s": round(real, 1),
                "archive_mb": round(seed_db.stat().st_size / 2**20, 1),
                "requests_per_s": round(seed_news["requests"] / seed_news["real_s"], 1),
            }  # fmt: skip
            sidecar.write_text(json.dumps({"key": key, "figures": results["seed_run"]}))
        log(f"seed: {results['seed_run']}")
        seed_mb = results["seed_run"]["archive_mb"]
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            # Each job has its own site server: the virtual clock is per server.
            jobs = {
                policy: pool.submit(
                    measure_policy,
                    policy,
                    site,
                    seed_db,
                    runs,
                    args.budget,
                    seed_mb,
                    None if args.jobs > 1 else url,
                )
                for policy in policies
            }
            for policy, job in jobs.items():
                results["policies"][policy] = job.result()
        if not args.no_extras:
            log("fresh install: first run, then feeds")
            results["first_feed"] = first_feed(url, args.budget)
            log(f"first feed: {results['first_feed']}")
            log("SIGKILL mid-run")
            results["sigkill"] = sigkill(url, args.budget)
            log(f"sigkill: {results['sigkill']}")
    results["bench_s"] = round(time.perf_counter() - started, 1)
    return report(results, args)


if __name__ == "__main__":
    raise SystemExit(main())
