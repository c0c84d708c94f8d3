"""A large archive in the real schema, written with bulk inserts (crawling it would take hours).

20,000 pages with 5 versions each on average, a change event per version, categories, and the
FTS rows of the current text: the shape feeds and search query in a long-lived archive.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from bench.sitegen import CATEGORIES, SECTIONS, WORDS
from storage import open_archive

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
