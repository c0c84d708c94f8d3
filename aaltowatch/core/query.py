"""The search query language: what a user's query means to SQLite FTS5, judged without an archive.

Users type plain words more often than FTS5 syntax, so a query that FTS5 rejects is retried with
every bare word quoted as a phrase (`Aalto-yliopisto`, `C++`, `e.g.` then just work). A query whose
syntax is clearly meant but broken (unbalanced quotes, a dangling `AND`, a lone `*`) is answered
with a QueryError that says what to fix, never a traceback. It lives in the core because a
watch's query is judged when the config is loaded, the same way `search` judges it.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from itertools import pairwise

from aaltowatch.core.errors import QueryError

# The indexed columns of pages_fts (and versions_fts), in their order.
COLUMNS = ("title", "lead", "body")
# The tokenizer of pages_fts and versions_fts (migrations), so a probe parses queries alike.
TOKENIZE = "unicode61 remove_diacritics 2"
OPERATORS = {"AND", "OR", "NOT"}

# Tokens of a query: a quoted phrase (possibly followed by `*`), or a run of non-space characters.
_TOKEN = re.compile(r'"(?:[^"]|"")*"\*?|\S+')
_COLUMN_FILTER = re.compile(r"(?<!\S)([A-Za-z_]+):(?=\w)")


def fts_query(query: str) -> str:
    """The MATCH expression a user's query stands for: as typed when FTS5 accepts it, else with
    every bare word quoted; a QueryError that says what to fix when neither compiles.

    Checked against an empty in-memory table with the archive's columns and tokenizer, so a
    watch's query is judged when the config is loaded, the same way `search` judges it.
    """
    text = query.strip()
    if not text:
        raise QueryError("empty search query: give one or more words, e.g. Vantaa")
    try:
        _compile(text)
        return text
    except sqlite3.OperationalError as first:
        problem = syntax_problem(text)
        if problem:
            raise QueryError(f"malformed search query {query!r}: {problem}") from None
        phrased = as_phrases(text)
        try:
            _compile(phrased)
        except sqlite3.OperationalError:
            raise QueryError(
                f'malformed search query {query!r} ({first}); use words, "exact phrases",'
                " prefix* and AND / OR / NOT"
            ) from None
        return phrased


def _compile(query: str) -> None:
    """Raise sqlite3.OperationalError when FTS5 cannot parse `query` (columns as pages_fts)."""
    with closing(sqlite3.connect(":memory:")) as conn:
        conn.execute(
            f"CREATE VIRTUAL TABLE probe USING fts5({', '.join(COLUMNS)}, tokenize={TOKENIZE!r})"
        )
        conn.execute("SELECT rowid FROM probe WHERE probe MATCH ?", (query,)).fetchall()


def as_phrases(query: str) -> str:
    """Quote every bare word so punctuation inside it is ordinary text; keep operators, phrases
    and a trailing prefix `*`."""
    out = []
    for token in _TOKEN.findall(query):
        if token in OPERATORS or token.startswith('"'):
            out.append(token)
            continue
        star = "*" if token.endswith("*") and len(token) > 1 else ""
        word = token[: -1 if star else None].replace('"', '""')
        out.append(f'"{word}"{star}')
    return " ".join(out)


def syntax_problem(query: str) -> str | None:
    """Why a query that FTS5 rejected was meant as search syntax, or None if it reads as plain
    words (then it is retried as phrases)."""
    if query.count('"') % 2:
        return 'unbalanced double quote: close the "exact phrase"'
    bare = re.sub(r'"(?:[^"]|"")*"', " x ", query)
    if "(" in bare or ")" in bare:
        return "check the parentheses, e.g. (Espoo OR Vantaa) or NEAR(city campus, 5)"
    tokens = bare.split()
    if tokens[0] in OPERATORS or tokens[-1] in OPERATORS:
        return "AND / OR / NOT need a search term on each side, e.g. Espoo NOT Helsinki"
    if any(a in OPERATORS and b in OPERATORS for a, b in pairwise(tokens)):
        return "two operators in a row: put a search term between AND / OR / NOT"
    if any(t.startswith("*") for t in tokens):
        return "'*' only works at the end of a word, e.g. sustain*"
    if any(t.startswith(("-", "+")) for t in tokens):
        return "'-' and '+' are not operators here: use NOT to exclude, e.g. Espoo NOT Helsinki"
    for column in _COLUMN_FILTER.findall(bare):
        if column not in COLUMNS:
            return f"no column {column!r}: filter with {', '.join(COLUMNS)}, e.g. title:Vantaa"
    return None


def operator_hint(query: str) -> str | None:
    """A lower-case `and`/`or`/`not` is searched as a word, which silently narrows the query
    (often to nothing): say that the operators are upper-case."""
    bare = re.sub(r'"(?:[^"]|"")*"', " ", query)
    lower = [t for t in bare.split() if t.upper() in OPERATORS and t != t.upper()]
    if not lower:
        return None
    return (
        f"{lower[0]!r} was searched as a word; the operators are upper-case"
        f" ({', '.join(sorted(OPERATORS))}), e.g. Espoo {lower[0].upper()} Vantaa"
    )
