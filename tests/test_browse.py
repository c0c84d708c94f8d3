"""The read-only Datasette web view (`aaltowatch browse`), started for real on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from aaltowatch.browse import browse, metadata
from aaltowatch.core.errors import AaltowatchError
from feeds.dashboard import CHARTS
from storage.schema_doc import migrated_database
from tests.browse import browsing
from tests.conftest import CLI, cli_env

pytest.importorskip("datasette", reason="Datasette is not installed: pip install -e '.[web]'")

CANNED = {"news_mentioning", "changes_since", "category_counts_by_month", "partner_page_changes",
          "partners", "date_anomalies"}  # fmt: skip


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def get_json(url: str) -> object:
    status, body = get(url)
    assert status == 200, body[:500]
    return json.loads(body)


@pytest.fixture
def server(two_state_copy: Path) -> Iterator[str]:
    with browsing(two_state_copy, timeout=30, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as (
        _,
        base,
    ):
        yield base


def test_canned_queries_answer_as_json(server, two_state_copy, expected):
    before = hashlib.sha256(two_state_copy.read_bytes()).hexdigest()
    vantaa = {u for u in expected["changes_1_to_2"]["new"] if "/news/" in u and "vantaa" in u}
    hits = get_json(f"{server}/archive/news_mentioning.json?term=Vantaa&_shape=array")
    assert vantaa and vantaa <= {h["url"] for h in hits}
    assert all("**Vantaa**" in h["snippet"] for h in hits)
    empty = get_json(f"{server}/archive/news_mentioning.json?term=&_shape=array")
    assert empty == []

    partners = get_json(f"{server}/archive/partner_page_changes.json?since=2000-01-01&_shape=array")
    modified = {m["url"] for m in expected["changes_1_to_2"]["modified"]}
    changed = {p["url"] for p in partners if p["change"] == "modified"}
    assert changed == {u for u in modified if "/collaboration/" in u}
    assert all(p["diff"] for p in partners if p["change"] == "modified")
    assert (
        get_json(f"{server}/archive/partner_page_changes.json?since=2999-01-01&_shape=array") == []
    )

    since = get_json(f"{server}/archive/changes_since.json?since=2000-01-01&_shape=array")
    assert {c["change"] for c in since} >= {"new", "modified", "removed", "moved"}
    months = get_json(f"{server}/archive/category_counts_by_month.json?_shape=array")
    assert months and set(months[0]) == {"month", "category", "lang", "count"}

    # Read-only: arbitrary SQL may only read, and the file is untouched.
    status, _ = get(f"{server}/archive.json?sql=DELETE+FROM+pages")
    assert status == 400
    assert get_json(f"{server}/archive/pages.json?_size=0")["filtered_table_rows_count"] > 0
    assert hashlib.sha256(two_state_copy.read_bytes()).hexdigest() == before


def test_descriptions_are_served(server):
    meta = get_json(f"{server}/-/metadata.json")
    assert meta["title"] == "aaltowatch archive"
    tables = meta["databases"]["archive"]["tables"]
    assert tables["pages"]["columns"]["duplicate_of"]
    status, body = get(f"{server}/archive/change_log")
    assert status == 200 and b"moved_from" in body


def test_dashboards_plugin_draws_the_dashboard_charts(server):
    pytest.importorskip("datasette_dashboards", reason="pip install -e '.[web]'")
    status, page = get(f"{server}/-/dashboards/aaltowatch")
    assert status == 200
    assert not re.search(rb'(?:src="|<link[^>]*href=")(?:https?:)?//', page)  # local assets
    board = metadata()["plugins"]["datasette-dashboards"]["aaltowatch"]
    assert {c for row in board["layout"] for c in row} == set(board["charts"])
    for slug, chart in board["charts"].items():
        sql = urllib.parse.quote(chart["query"])
        assert get_json(f"{server}/archive.json?sql={sql}&_shape=array"), slug
    assert {c[0] for c in CHARTS} == set(board["charts"])  # the same charts as dashboard.html


def test_metadata_describes_every_table_view_and_column():
    meta = metadata()
    tables = meta["databases"]["archive"]["tables"]
    assert set(meta["databases"]["archive"]["queries"]) == CANNED
    schema = migrated_database()
    for name in ("pages", "versions", "changes", "runs", "alerts", *schema.view_names()):
        assert tables[name]["description"], name
        assert set(tables[name]["columns"]) == {c.name for c in schema[name].columns}, name


def test_missing_archive_is_a_clear_error(tmp_path):
    with pytest.raises(AaltowatchError, match="no archive"):
        browse(tmp_path / "none.db")


def test_without_datasette_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "datasette.app", None)
    with pytest.raises(AaltowatchError, match=r"pip install -e '\.\[web\]'"):
        browse(tmp_path / "archive.db")


def test_busy_port_is_one_clear_line_and_prints_no_url(two_state_copy):
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [*CLI, "--db", str(two_state_copy), "browse", "--port", str(port)],
            capture_output=True, text=True, timeout=60, env=cli_env(),
        )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stdout == ""  # no "Browsing ... at http://..." for a port that is not ours
    assert proc.stderr.strip() == (
        f"error: cannot listen on 127.0.0.1:{port}: address already in use; choose another --port"
    )


def test_refused_queries_log_nothing_and_never_block_the_server(two_state_copy):
    """Nobody reads browse's output (a service, a closed terminal): refused queries must not
    write tracebacks into the pipe until it fills and the server hangs."""
    with browsing(two_state_copy, timeout=30, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as (
        proc,
        base,
    ):
        for _ in range(30):  # ~14 KB each before: the 64 KB pipe filled after a handful
            assert get(f"{base}/archive.json?sql=DELETE+FROM+pages")[0] == 400
        request = urllib.request.Request(f"{base}/archive/pages/1/-/delete", method="POST")
        assert get(request)[0] in (403, 404, 405)  # never a 500
    out, err = proc.communicate(timeout=10)
    assert out.decode().startswith("Browsing ") and len(out) < 200
    assert b"Traceback" not in err and len(err) < 500, err[:500]


def test_search_snippets_are_highlights_and_a_refused_search_logs_no_sql(two_state_copy):
    from storage.search import MARK

    assert (
        f"'{MARK}', '{MARK}'"
        in metadata()["databases"]["archive"]["queries"]["news_mentioning"]["sql"]
    )  # the canned query marks with the mark the web view renders
    with browsing(two_state_copy, timeout=30, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as (
        proc,
        server,
    ):
        base = f"{server}/archive/news_mentioning"
        status, page = get(f"{base}?term=Vantaa")
        assert status == 200
        html = page.decode()
        assert re.search(r"<mark>Vantaa</mark>", html, re.IGNORECASE), html[-3000:]
        assert f"{MARK}Vantaa" not in html
        refused, _ = get(f"{base}?term=" + urllib.parse.quote('"unbalanced'))
        assert refused in (200, 400)  # Datasette's error page for the query
    out, err = proc.communicate(timeout=10)
    assert b"sql =" not in err and b"SELECT" not in err and b"SELECT" not in out, err[:500]
