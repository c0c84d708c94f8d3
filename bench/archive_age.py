"""`make bench-archive-age`: does a run's fixed work stay flat as the archive ages?

Archives in the real schema (bench/archive_gen.generate_age) after 1 week, 3 months, 1 year and
3 years of operation: 20,000 news pages, 48 runs a day, ~18,000 checks and ~300 new versions a
day. On a copy of each, one run's worth of new events is recorded, then a run's fixed work is
timed (CPU and wall, best of `--repeat`) through the calls a run makes: the planner's revisit
choice, matching the run's events against 20 watches (stored matches, `match_watches`), feeds
with those watches (dashboard and health feed included), notifications to a local HTTP sink,
the final health feed and `status`. The watches' history is matched before the run (untimed
there; its cost and the number of runs it takes are reported as `backfill`).
Then the database size per year, scaled back to 20,000 pages, as generated (every check kept)
and after `aaltowatch prune` with the default policy (checks older than 90 days dropped).

    python -m bench.archive_age [--ages 7,91,365,1095] [--scale 0.1] [--write]
    python -m bench.archive_age --generator replay --ages 7,365,1095 --scale 0.0125

`--generator replay` makes the archives a second way (bench/archive_replay.py: simulated
crawls through the product's own write path) and times them the same way.

`--scale 0.1` shrinks pages, versions and checks a day tenfold (runs stay 48 a day): minutes,
not an hour. Archives are kept in bench/work/ and reused (`--regen` writes them again).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench import archive_gen

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "archive-age"
RESULTS = HERE / "RESULTS.json"
AGES = {7: "1 week", 91: "3 months", 365: "1 year", 1095: "3 years"}
WATCHES = 20
EVENTS_PER_RUN = archive_gen.VERSIONS_PER_DAY // archive_gen.RUNS_PER_DAY


def log(message: str) -> None:
    print(f"[archive-age] {message}", file=sys.stderr, flush=True)


class _Sink(BaseHTTPRequestHandler):
    """A notification target that accepts every message at once (json:// posts here)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def sink() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"json://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def watch_words(count: int = WATCHES) -> list[str]:
    """Content words of middling frequency: each matches some events, never most of them."""
    return archive_gen.VOCAB[200 : 200 + 40 * count : 40]


def config_for(db: Path, feeds: Path, target: str | None, watches: bool) -> Any:
    from aaltowatch.core.config import load_config
    from aaltowatch.core.watchconfig import parse_watches

    config = load_config(environ={}).replace(
        db=db, feeds_dir=feeds, notify_interval_s=0.0, notify_max_per_run=WATCHES
    )
    if not watches:
        return config
    tables = [
        {"name": f"w{i}", "query": word, **({"notify": [target]} if target else {})}
        for i, word in enumerate(watch_words())
    ]
    return config.replace(watches=parse_watches(tables, "bench"))


def record_a_run(archive: Any, now: str) -> int:
    """One run's new events: EVENTS_PER_RUN edits of recent pages, their text holding the
    watched words (every watch has something to send)."""
    rng = random.Random(11)
    run_id = archive.runs.start_run("news", "https://www.aalto.fi")
    (pages,) = archive.conn.execute("SELECT MAX(id) FROM pages").fetchone()
    words = watch_words()
    with archive.transaction():
        for n in range(EVENTS_PER_RUN):
            page = archive.pages.page_by_id(pages - n)
            v = page["current_version"] + 1
            body = " ".join(rng.sample(words, 4) + archive_gen.VOCAB[50:120])
            archive.pages.add_version(
                {"page_id": page["id"], "version": v, "run_id": run_id, "url": page["url"],
                 "fetched_at": now, "content_hash": f"bench-{v}", "title": f"Edited {n}",
                 "lead": "", "body": body, "categories": '["Research"]'}
            )  # fmt: skip
            archive.pages.update_page(
                page["id"], current_version=v, version_count=v, last_changed=now
            )
            archive.pages.add_change(
                {"page_id": page["id"], "run_id": run_id, "url": page["url"],
                 "change": "modified", "fields": '["body"]', "detected_at": now, "version": v,
                 "previous_version": v - 1}
            )  # fmt: skip
    archive.runs.finish_run(run_id, status="ok", exit_code=0)
    return run_id


def timed(step: Callable[[], Any], repeat: int) -> dict[str, float]:
    best = {"cpu_s": float("inf"), "wall_s": float("inf")}
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        step()
        best["cpu_s"] = min(best["cpu_s"], time.process_time() - cpu)
        best["wall_s"] = min(best["wall_s"], time.perf_counter() - wall)
    return {k: round(v, 3) for k, v in best.items()}


def plan_revisits(archive: Any, config: Any, now: datetime) -> list[str]:
    """What a news run's planner does with the archive: candidates in, revisits out."""
    from aaltowatch.core import planner

    pages = [planner.PageView.from_row(r) for r in archive.plan.revisit_candidates("news")]
    return planner.select_revisits(
        pages,
        now=now,
        budget=300,
        policy=planner.RevisitPolicy(config.revisit_policy),
        max_days=config.revisit_max_days,
        min_value=config.revisit_min_value,
        recent_max_days=config.revisit_recent_max_hours / 24.0,
        runs_per_day=float(archive_gen.RUNS_PER_DAY),
        run_limit=900,
        fill_share=config.revisit_fill_share,
    )


def backfill(archive: Any, watches: Any) -> dict[str, Any]:
    """New watches' history matched as runs do it (a bounded share a call) until none is left:
    a one-time cost, so not part of a run's fixed work."""
    from aaltowatch.watches import match_watches

    cpu, calls, events = time.process_time(), 0, 0
    while True:
        report = match_watches(archive, watches)
        calls += 1
        if report is None:
            raise RuntimeError("watch matching failed (see the log)")
        events += report.backfilled
        if not report.backfilled:
            break
    return {"cpu_s": round(time.process_time() - cpu, 2), "runs": calls - 1, "events": events}


def feed_entries(archive: Any, config: Any) -> dict[str, int]:
    """Entries of the 20 watch feeds, and how many are edits (each rendered with a word diff):
    what the watch feeds cost grows with, up to `feed_max_entries` a watch."""

    rows = [
        r for w in config.watches for r in archive.watches.changes(w, limit=config.feed_max_entries)
    ]
    return {"entries": len(rows), "edits": sum(r["change"] == "modified" for r in rows)}


def unscaled_mb(db: Path) -> float:
    """Megabytes of the tables `--scale` does not shrink (runs, alerts: 48 runs a day at any
    scale), so that the rest can be scaled back to 20,000 pages."""
    conn = sqlite3.connect(db)
    try:
        (size,) = conn.execute(
            "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name IN"
            " (SELECT name FROM sqlite_master WHERE tbl_name IN ('runs', 'alerts'))"
        ).fetchone()
    finally:
        conn.close()
    return round(size / 1e6, 1)


def full_size_mb(mb: float, unscaled: float, scale: float) -> float:
    return (mb - unscaled) / scale + unscaled


def measure(source: Path, days: int, repeat: int) -> dict[str, Any]:
    from aaltowatch.notify.deliver import after_run, register
    from aaltowatch.prune import prune
    from aaltowatch.publish import publish_feeds, publish_health
    from aaltowatch.status import status_report
    from aaltowatch.watches import match_watches
    from storage import open_archive

    db = WORK / f"run-{days}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, db)
    feeds = WORK / f"feeds-{days}"
    shutil.rmtree(feeds, ignore_errors=True)
    end = archive_gen.START + timedelta(days=days)
    now = end.strftime("%Y-%m-%dT%H:%M:%SZ")
    out: dict[str, Any] = {}
    with sink() as target, open_archive(db) as archive:
        plain = config_for(db, feeds, None, watches=False)
        watched = config_for(db, feeds, target, watches=True)
        register(archive, watched.watches)
        out["backfill"] = backfill(archive, watched.watches)
        run_id = record_a_run(archive, now)
        out["plan"] = timed(lambda: plan_revisits(archive, plain, end), repeat)
        # Once: the run's events are matched by the first call, later calls find nothing new.
        out["match"] = timed(lambda: match_watches(archive, watched.watches), 1)
        out["feeds_no_watches"] = timed(lambda: publish_feeds(archive, plain), repeat)
        out["feeds_20_watches"] = timed(lambda: publish_feeds(archive, watched), repeat)
        out["notifications"] = timed(lambda: after_run(watched, archive, run_id), 1)
        out["health"] = timed(lambda: publish_health(archive, watched), repeat)
        out["status"] = timed(
            lambda: status_report(archive, revisit_max_days=plain.revisit_max_days), repeat
        )
        out["matches"] = archive.conn.execute("SELECT COUNT(*) FROM watch_matches").fetchone()[0]
        out["watch_feed_entries"] = feed_entries(archive, watched)
        started = time.perf_counter()
        pruned = prune(archive, plain, now=now)
        out["prune"] = {
            "s": round(time.perf_counter() - started, 1),
            **{k: pruned[k] for k in ("checks", "raws", "deltas", "vacuum")},
        }
    out["db_pruned_mb"] = round(db.stat().st_size / 1e6, 1)
    out["db_pruned_unscaled_mb"] = unscaled_mb(db)
    fixed = ("plan", "match", "feeds_20_watches", "notifications", "health", "status")
    out["fixed_work_cpu_s"] = round(sum(out[k]["cpu_s"] for k in fixed), 3)
    out["fixed_work_wall_s"] = round(sum(out[k]["wall_s"] for k in fixed), 3)
    out["watches_cpu_s"] = round(
        out["match"]["cpu_s"]
        + out["feeds_20_watches"]["cpu_s"]
        - out["feeds_no_watches"]["cpu_s"]
        + out["notifications"]["cpu_s"],
        3,
    )
    return out


def run(
    ages: list[int], scale: float, repeat: int, regen: bool, generator: str = "bulk"
) -> dict[str, Any]:
    WORK.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"scale": scale, "pages": int(20_000 * scale), "ages": {}}
    generate_age = archive_gen.generate_age
    prefix = "age"
    if generator == "replay":  # the second method (bench/archive_replay.py); imports this
        from bench import archive_replay

        generate_age, prefix = archive_replay.generate_age, "replay"
        report["generator"] = "replay"
    for days in ages:
        source = WORK / f"{prefix}-{days}-x{scale:g}.db"
        entry: dict[str, Any] = {"label": AGES.get(days, f"{days} days")}
        if regen or not source.exists():
            log(f"generating {entry['label']} at scale {scale:g}")
            started = time.perf_counter()
            entry["rows"] = generate_age(source, days, scale=scale, log=log)
            entry["generate_s"] = round(time.perf_counter() - started, 1)
        entry["db_mb"] = round(source.stat().st_size / 1e6, 1)
        entry["db_unscaled_mb"] = unscaled_mb(source)
        log(f"{entry['label']}: {entry['db_mb']} MB; timing a run's fixed work")
        entry.update(measure(source, days, repeat))
        report["ages"][str(days)] = entry
        log(json.dumps(entry))
    first, last = (report["ages"][str(d)] for d in (min(ages), max(ages)))
    if len(ages) > 1:
        years = (max(ages) - min(ages)) / 365.0
        report["fixed_work_ratio"] = round(
            last["fixed_work_cpu_s"] / max(first["fixed_work_cpu_s"], 1e-9), 2
        )
        for key, size, unscaled in (
            ("db_growth_gb_per_year_at_20k_pages", "db_mb", "db_unscaled_mb"),
            ("db_growth_gb_per_year_pruned", "db_pruned_mb", "db_pruned_unscaled_mb"),
        ):
            grown = full_size_mb(last[size], last[unscaled], scale) - full_size_mb(
                first[size], first[unscaled], scale
            )
            report[key] = round(grown / 1000 / years, 2)
    report["measured_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--ages", default="7,91,365,1095", help="days of operation, comma-separated"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="pages, versions, checks x this")
    parser.add_argument("--repeat", type=int, default=2, help="best of this many timings")
    parser.add_argument("--regen", action="store_true", help="generate the archives again")
    parser.add_argument("--write", action="store_true", help="store the figures in RESULTS.json")
    parser.add_argument(
        "--generator",
        choices=("bulk", "replay"),
        default="bulk",
        help="bulk SQL (archive_gen) or replayed crawls through the write path (archive_replay)",
    )
    args = parser.parse_args(argv)
    ages = [int(a) for a in args.ages.split(",")]
    report = run(ages, args.scale, args.repeat, args.regen, args.generator)
    print(json.dumps(report, indent=2))
    if args.write:
        results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        suffix = "_replay" if args.generator == "replay" else ""
        results[f"archive_age_x{args.scale:g}{suffix}"] = report
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
