"""FeedServer: content types, validators (ETag / Last-Modified -> 304), HEAD, 404, traversal."""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from feeds.serve import FeedServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FeedServer]:
    root = tmp_path / "feeds"
    root.mkdir()
    (root / "index.html").write_text("<!DOCTYPE html><title>x</title>", encoding="utf-8")
    (root / "changes.xml").write_text("<rss version='2.0'><channel/></rss>", encoding="utf-8")
    (root / "changes.atom").write_text("<feed xmlns='http://www.w3.org/2005/Atom'/>")
    (root / "feeds.opml").write_text("<opml version='2.0'/>")
    (root / ".changes.xml.tmp").write_text("half-written")
    (tmp_path / "secret.xml").write_text("secret")
    os.utime(root / "changes.xml", (1_700_000_000, 1_700_000_000))
    with FeedServer(root, port=0) as running:
        yield running


def _request(
    server: FeedServer, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("path", "ctype"),
    [
        ("/changes.xml", "application/rss+xml; charset=utf-8"),
        ("/changes.atom", "application/atom+xml; charset=utf-8"),
        ("/feeds.opml", "text/x-opml; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
    ],
)
def test_content_types_and_validators(server: FeedServer, path: str, ctype: str) -> None:
    status, headers, body = _request(server, path)
    assert status == 200
    assert headers["content-type"] == ctype
    assert headers["etag"].startswith('"') and headers["last-modified"].endswith("GMT")
    assert int(headers["content-length"]) == len(body) > 0


def test_conditional_get(server: FeedServer) -> None:
    _, headers, _ = _request(server, "/changes.xml")
    assert headers["last-modified"] == formatdate(1_700_000_000, usegmt=True)
    status, again, body = _request(
        server, "/changes.xml", headers={"If-None-Match": headers["etag"]}
    )
    assert (status, body) == (304, b"") and again["etag"] == headers["etag"]
    assert _request(server, "/changes.xml", headers={"If-None-Match": '"other"'})[0] == 200
    ims = {"If-Modified-Since": headers["last-modified"]}
    assert _request(server, "/changes.xml", headers=ims)[0] == 304
    older = {"If-Modified-Since": formatdate(1_600_000_000, usegmt=True)}
    assert _request(server, "/changes.xml", headers=older)[0] == 200
    assert _request(server, "/changes.xml", headers={"If-Modified-Since": "garbage"})[0] == 200


def test_head(server: FeedServer) -> None:
    status, headers, body = _request(server, "/changes.atom", method="HEAD")
    assert status == 200 and body == b""
    assert headers["content-type"].startswith("application/atom+xml") and "etag" in headers


@pytest.mark.parametrize(
    "path",
    [
        "/missing.xml",
        "/../secret.xml",
        "/%2e%2e/secret.xml",
        "/..%2fsecret.xml",
        "/./changes.xml/..",
        "/.changes.xml.tmp",
        "//etc/passwd",
        "/changes.xml%00.html",
        "/..\\secret.xml",
    ],
)
def test_unknown_and_traversal_are_404(server: FeedServer, path: str) -> None:
    status, _, body = _request(server, path)
    assert status == 404
    assert b"secret" not in body and b"half-written" not in body


def test_stop_frees_the_port(tmp_path: Path) -> None:
    server = FeedServer(tmp_path).start()
    url = server.url
    server.stop()
    assert url.startswith("http://127.0.0.1:") and not url.endswith(":0/")


def test_cli_serve_port_zero_prints_the_real_url(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!DOCTYPE html><title>feeds</title>", encoding="utf-8")
    cmd = [sys.executable, "-m", "aaltowatch.cli", "--feeds-dir", str(tmp_path), "serve"]
    proc = subprocess.Popen(
        [*cmd, "--port", "0"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    try:
        assert proc.stderr is not None
        line = ""
        deadline = time.monotonic() + 30
        while "http://" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match and match.group(1) != "0", line
        with urllib.request.urlopen(match.group(0), timeout=10) as resp:
            assert resp.status == 200 and b"feeds" in resp.read()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_idle_connections_are_closed(tmp_path: Path) -> None:
    """A client that connects and says nothing does not keep a thread forever."""
    import socket

    with FeedServer(tmp_path, port=0, idle_timeout=0.5) as running:
        parts = urlsplit(running.url)
        with socket.create_connection((parts.hostname, parts.port), timeout=60) as conn:
            started = time.monotonic()
            assert conn.recv(1024) == b""  # the server hung up on us
            assert time.monotonic() - started < 30


def test_cli_serve_on_a_busy_port_is_one_clear_line(tmp_path: Path) -> None:
    import socket

    from tests.conftest import run_cli

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        proc = run_cli("--feeds-dir", str(tmp_path), "serve", "--port", str(port), timeout=30)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last == (
        f"error: cannot listen on 127.0.0.1:{port}: address already in use; choose another --port"
    )
    assert "Errno" not in proc.stderr and "serving" not in proc.stderr
