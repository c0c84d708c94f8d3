"""A large archive in the real schema, written with bulk inserts (crawling it would take hours).

20,000 pages with 5 versions each on average, a change event per version, categories, and the
FTS rows of the current text: the shape feeds and search query in a long-lived archive.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import sitegen
from bench.sitegen import CATEGORIES, SECTIONS, WORDS
from storage import open_archive, rawcodec

SYLLABLES = ("ka", "lo", "te", "mi", "sa", "ro", "vu", "ne", "pi", "ja", "ol", "ri", "tu", "en")


def vocabulary(size: int = 6000, seed: int = 3) -> tuple[list[str], list[float]]:
    """Words and Zipf cumulative weights: a few very common words, a long tail of rare ones."""
    rng = random.Random(seed)
    words = list(dict.fromkeys(WORDS))
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in words:
            words.append(word)
    total, cum = 0.0, []
    for rank in range(1, size + 1):
        total += 1 / rank
        cum.append(total)
    return words, cum


VOCAB, CUM = vocabulary()


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choices(VOCAB, cum_weights=CUM, k=words))


def generate(path: Path, pages: int = 20_000, versions: int = 100_000, seed: int = 7) -> None:
    """Write the archive at ``path`` (replacing it)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    rng = random.Random(seed)
    counts = [1] * pages
    for _ in range(versions - pages):
        counts[rng.randrange(pages)] += 1
    archive = open_archive(path)
    conn = archive.conn
    with archive.transaction():
        conn.execute(
            "INSERT INTO runs (id, spider, started_at, status) VALUES (1, 'news', ?, 'ok')",
            ("2026-01-01T00:00:00Z",),
        )
        page_rows, version_rows, change_rows, fts_rows = [], [], [], []
        for pid in range(1, pages + 1):
            lang = rng.choice(list(SECTIONS))
            kind = "news" if pid % 20 else "partnership"
            section = SECTIONS[lang] if kind == "news" else "collaboration"
            url = f"https://www.aalto.fi/{lang}/{section}/story-{pid}"
            n = counts[pid - 1]
            day = f"2025-{1 + pid % 12:02d}-{1 + pid % 28:02d}"
            categories = json.dumps(rng.sample(CATEGORIES, 2))
            for v in range(1, n + 1):
                stamp = f"{day}T{v % 24:02d}:00:00Z"
                title, lead = _text(rng, 8).capitalize(), _text(rng, 25)
                body = "\n\n".join(_text(rng, 60) for _ in range(4))
                version_rows.append(
                    (pid, v, 1, url, stamp, f"h{pid}-{v}", title, lead, body,
                     f"<p>{body}</p>", stamp, stamp, categories)
                )  # fmt: skip
                change_rows.append(
                    (pid, 1, url, "new" if v == 1 else "modified", stamp, v, v - 1 or None)
                )
            fts_rows.append((pid, title, lead, body))
            page_rows.append((pid, url, kind, lang, day + "T00:00:00Z", stamp, stamp, n, n))
        conn.executemany(
            "INSERT INTO pages (id, url, kind, lang, first_seen, last_seen, last_changed,"
            " version_count, current_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            page_rows,
        )
        conn.executemany(
            "INSERT INTO versions (page_id, version, run_id, url, fetched_at, content_hash, title,"
            " lead, body, body_html, published, updated, categories)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            version_rows,
        )
        conn.executemany(
            "INSERT INTO changes (page_id, run_id, url, change, detected_at, version,"
            " previous_version) VALUES (?, ?, ?, ?, ?, ?, ?)",
            change_rows,
        )
        conn.executemany(
            "INSERT INTO pages_fts (rowid, title, lead, body) VALUES (?, ?, ?, ?)", fts_rows
        )
    conn.execute("ANALYZE")
    archive.close()


# -- an archive as aaltowatch leaves it after `days` of operation (bench/archive_age.py) ------
RUNS_PER_DAY = 48  # every 30 minutes
VERSIONS_PER_DAY = 300  # at 20,000 pages
NEW_SHARE = 0.02  # of the new versions, the first of a new story (6 a day at 20,000 pages)
CHECKS_PER_DAY = 18_000  # at 20,000 pages: the planner's revalidations
START = datetime(2026, 1, 5, tzinfo=UTC)
RUN_STATS = json.dumps({f"aaltowatch/stat/{n}": n * 37 for n in range(60)})  # ~1.5 KB a run


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _page_templates(rng: random.Random, count: int = 48) -> list[tuple[str, str]]:
    """Real-shaped article pages (sitegen) split where the story's text goes."""
    stories = sitegen.make_stories(count, seed=rng.randint(0, 10**6))
    marker = '<div class="aalto-user-generated-content">'
    out = []
    for story in stories:
        html = sitegen.article(story, rng, stories[:4])
        head, _, tail = html.partition(marker)
        out.append((head + marker, tail.split("</div>", 1)[1]))
    return out


def generate_age(
    path: Path,
    days: float,
    *,
    pages: int = 20_000,
    scale: float = 1.0,
    seed: int = 7,
    log: Callable[[str], None] = lambda _m: None,
) -> dict[str, int]:
    """Write the archive of `days` of operation of a site of `pages` pages at ``path``
    (replacing it) and return its row counts. `scale` shrinks pages, versions and checks a
    day (not runs): a quick, smaller archive with the same history per page. Bulk inserts,
    one transaction, no journal."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    open_archive(path).close()  # the real schema, every migration
    rng = random.Random(seed)
    n_pages = max(int(pages * scale), 50)
    per_day_versions = VERSIONS_PER_DAY * scale
    per_run_checks = CHECKS_PER_DAY * scale / RUNS_PER_DAY
    n_runs = max(int(days * RUNS_PER_DAY), 1)
    templates = _page_templates(rng)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")
    conn.execute("BEGIN")

    # The dictionary a writer trains once (storage.fetches.train_raw_dictionary).
    samples = [(head + f"<p>{_text(rng, 200)}</p>" + tail).encode() for head, tail in templates * 4]
    zdict_content = rawcodec.train(samples)
    zdict = rawcodec.load_dict(zdict_content)
    conn.execute(
        "INSERT INTO response_dicts (id, content, samples, created_at) VALUES (1, ?, ?, ?)",
        (zdict_content, len(samples), _stamp(START)),
    )

    pages_rows: dict[int, list] = {}  # id -> [url, kind, lang, first_seen, last_changed, n]
    current: dict[int, tuple[str, str, str, str]] = {}  # id -> title, lead, body, raw sha
    # id -> its raw keyframe: sha, the story's part of it (between the template's head and
    # tail: a full-size site's keyframes would not fit in memory), size of its blob
    keyframes: dict[int, tuple[str, bytes, int]] = {}
    stats: dict[int, list] = {}  # id -> [last_checked, checks, changes, unchanged, intervals]
    versions, changes, responses = [], [], []

    def add_version(pid: int, at: datetime, run_id: int) -> None:
        row = pages_rows[pid]
        row[5] += 1
        row[4] = _stamp(at)
        v = row[5]
        title, lead = _text(rng, 8).capitalize(), _text(rng, 25)
        body = "\n\n".join(_text(rng, 60) for _ in range(4))
        head, tail = templates[pid % len(templates)]
        raw = (head + "".join(f"<p>{p}</p>" for p in body.split("\n\n")) + tail).encode()
        sha = hashlib.sha256(raw).hexdigest()
        stamp = _stamp(at)
        responses.append((sha, row[0], "text/html", len(raw), *encode(pid, sha, raw), stamp))
        versions.append(
            (pid, v, run_id, row[0], stamp, f"h{pid}-{v}", title, lead, body, f"<p>{body}</p>",
             row[3], stamp, json.dumps(rng.sample(CATEGORIES, 2)), 200, sha)
        )  # fmt: skip
        diff = None if v == 1 else f"-{_text(rng, 12)}\n+{_text(rng, 12)}"
        changes.append(
            (pid, run_id, row[0], "new" if v == 1 else "modified",
             "[]" if v == 1 else '["body"]', stamp, v, v - 1 or None, diff)
        )  # fmt: skip
        current[pid] = (title, lead, body, sha)

    def encode(pid: int, sha: str, raw: bytes) -> tuple[bytes, str, int | None, str | None]:
        """As storage.fetches stores it: a delta against the URL's keyframe where that pays.
        (Only a version's raw becomes a keyframe here: the product may also key a noise body.)"""
        head, tail = (part.encode() for part in templates[pid % len(templates)])
        if pid in keyframes:
            key_sha, key_story, key_size = keyframes[pid]
            delta = rawcodec.delta(raw, head + key_story + tail, key_size)
            if delta is not None:
                return delta, rawcodec.DELTA, None, key_sha
        blob = rawcodec.compress(raw, zdict)
        keyframes[pid] = (sha, raw[len(head) : len(raw) - len(tail)], len(blob))
        return blob, rawcodec.ZSTD, 1, None

    def new_page(at: datetime, run_id: int) -> int:
        pid = len(pages_rows) + 1
        lang = rng.choice(list(SECTIONS))
        kind = "news" if pid % 20 else "partnership"
        section = SECTIONS[lang] if kind == "news" else "collaboration"
        url = f"https://www.aalto.fi/{lang}/{section}/story-{pid}"
        pages_rows[pid] = [url, kind, lang, _stamp(at), _stamp(at), 0]
        add_version(pid, at, run_id)
        return pid

    runs, checks = [], []
    at = START
    # The backfill: the first run stores the site, less the stories published since, so that
    # every age ends with `pages` pages (the same site, watched for longer).
    expected_new = int(NEW_SHARE * per_day_versions * days)
    for _ in range(max(n_pages - expected_new, n_pages // 2)):
        new_page(at, 1)
    versions_due, checks_due, cursor = 0.0, 0.0, 0
    for run_id in range(1, n_runs + 1):
        at = START + timedelta(minutes=30 * (run_id - 1))
        changed: list[int] = []
        if run_id > 1:
            versions_due += per_day_versions / RUNS_PER_DAY
            while versions_due >= 1:
                versions_due -= 1
                if rng.random() < NEW_SHARE:
                    changed.append(new_page(at, run_id))
                else:  # edits go mostly to recent stories
                    pid = len(pages_rows) - int(len(pages_rows) * rng.random() ** 4)
                    add_version(pid, at, run_id)
                    changed.append(pid)
        stamp = _stamp(at)
        for pid in changed:
            checks.append((pid, pages_rows[pid][0], run_id, stamp, "changed", 200))
        checks_due += per_run_checks if run_id > 1 else 0
        while checks_due >= 1:
            checks_due -= 1
            cursor = cursor % len(pages_rows) + 1
            outcome = "not_modified" if rng.random() < 0.6 else "same"
            checks.append((cursor, pages_rows[cursor][0], run_id, stamp, outcome, 200))
            last = stats.setdefault(cursor, [None, 0, 0, 0.0, []])
            if last[0] is not None:
                last[3] += (at - last[0]).total_seconds() / 86400
            last[0], last[1] = at, last[1] + 1
        for pid in changed:
            last = stats.setdefault(pid, [None, 0, 0, 0.0, []])
            if last[0] is not None:
                interval = (at - last[0]).total_seconds() / 86400
                last[4] = [*last[4], round(interval, 6)][-16:]
                last[2] += 1
            last[0], last[1] = at, last[1] + 1
        finished = _stamp(at + timedelta(minutes=12))
        runs.append(
            (run_id, "news", "https://www.aalto.fi", stamp, finished, "ok", 0, 900,
             len(changed), int(per_run_checks), len(changed), RUN_STATS)
        )  # fmt: skip
        if len(checks) > 200_000:
            _flush_checks(conn, checks)
        if len(versions) > 5_000:
            _flush_versions(conn, versions, changes, responses)
    _flush_checks(conn, checks)
    _flush_versions(conn, versions, changes, responses)
    log(f"{len(pages_rows)} pages, {n_runs} runs written; pages, fetches, summaries next")
    conn.executemany(
        "INSERT INTO runs (id, spider, base_url, started_at, finished_at, status, exit_code,"
        " requests, pages_fetched, not_modified, modified, stats)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        runs,
    )
    conn.executemany(
        "INSERT INTO pages (id, url, kind, lang, first_seen, last_seen, last_changed,"
        " version_count, current_version, content_hash, dup_hash, simhash, sh0, sh1, sh2, sh3)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (pid, url, kind, lang, first, _stamp(at), changed, n, n, f"h{pid}-{n}",
             f"d{pid}-{n}", rng.getrandbits(62), *(rng.getrandbits(16) for _ in range(4)))
            for pid, (url, kind, lang, first, changed, n) in pages_rows.items()
        ],
    )  # fmt: skip
    conn.executemany(
        "INSERT INTO pages_fts (rowid, title, lead, body) VALUES (?, ?, ?, ?)",
        [(pid, t, lead, b) for pid, (t, lead, b, _sha) in current.items()],
    )
    # Each URL's latest 200: the current version's bytes with the day's noise (kept, one a URL).
    latest = []
    for pid, (url, *_rest) in pages_rows.items():
        head, tail = templates[pid % len(templates)]
        raw = (head + current[pid][2] + f"<!-- card {rng.random()} -->" + tail).encode()
        sha = hashlib.sha256(raw).hexdigest()
        responses.append((sha, url, "text/html", len(raw), *encode(pid, sha, raw), stamp))
        latest.append((url, f'"{sha[:16]}"', sha, "text/html", 200, stamp))
    _flush_versions(conn, versions, changes, responses)
    conn.executemany(
        "INSERT INTO fetches (url, etag, raw_sha256, content_type, http_status, fetched_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        latest,
    )
    conn.executemany(
        "INSERT INTO check_stats (page_id, last_checked, last_attempt, checks, changes,"
        " unchanged_days, changed_intervals) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (pid, _stamp(s[0]), _stamp(s[0]), s[1], s[2], s[3], json.dumps(s[4]))
            for pid, s in stats.items()
        ],
    )
    conn.executemany(
        "INSERT INTO alerts (run_id, created_at, check_name, severity, message)"
        " VALUES (?, ?, 'error_rate', 'warning', 'error rate 6% above 5%')",
        [(r[0], r[3]) for r in runs[:: RUNS_PER_DAY * 7]],
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    counts = {
        table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        for table in ("pages", "versions", "changes", "checks", "runs", "responses")
    }
    conn.close()
    return counts


def _flush_versions(
    conn: sqlite3.Connection, versions: list, changes: list, responses: list
) -> None:
    conn.executemany(
        "INSERT INTO versions (page_id, version, run_id, url, fetched_at, content_hash, title,"
        " lead, body, body_html, published, updated, categories, http_status, raw_sha256)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        versions,
    )
    conn.executemany(
        "INSERT INTO changes (page_id, run_id, url, change, fields, detected_at, version,"
        " previous_version, diff) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        changes,
    )
    conn.executemany(
        "INSERT OR IGNORE INTO responses (sha256, url, content_type, size, body, codec,"
        " dict_id, base, first_fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        responses,
    )
    versions.clear()
    changes.clear()
    responses.clear()


def _flush_checks(conn: sqlite3.Connection, checks: list) -> None:
    conn.executemany(
        "INSERT INTO checks (page_id, url, run_id, checked_at, outcome, http_status)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        checks,
    )
    checks.clear()
