"""The snapshot server must honour the contract in SNAPSHOT_README.md, checked over real HTTP."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aaltowatch.testing.snapshot_server import SnapshotServer, load_manifest, snapshot_root

REPO = Path(__file__).resolve().parents[1]
MANIFEST = load_manifest()
ROOT = snapshot_root()
LISTING = "/en/news?page=1"
DAY1 = "Tue, 20 Jan 2026 16:00:00 GMT"
NEW_ON_DAY2 = "/en/news/heating-outage-in-the-otakaari-1-lecture-halls-on-wednesday"


def entry(state: str, key: str) -> dict:
    return MANIFEST["states"][state]["urls"][key]


def file_bytes(state: str, key: str) -> bytes:
    return (ROOT / entry(state, key)["file"]).read_bytes()


def strong_etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest() + '"'


def fetch(
    srv: SnapshotServer, target: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request without following redirects or raising on errors."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        conn.request(method, target, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


@pytest.fixture
def srv() -> Iterator[SnapshotServer]:
    with SnapshotServer("state-1") as server:
        yield server


@pytest.fixture
def srv2() -> Iterator[SnapshotServer]:
    with SnapshotServer("state-2") as server:
        yield server


def test_200_sends_exact_bytes_and_validators(srv: SnapshotServer) -> None:
    status, headers, body = fetch(srv, LISTING)
    expected = file_bytes("state-1", LISTING)
    assert status == 200
    assert body == expected
    assert headers["Content-Type"] == "text/html; charset=UTF-8"
    assert headers["Last-Modified"] == DAY1
    assert headers["ETag"] == strong_etag(expected)
    assert headers["Content-Length"] == str(len(expected))
    assert srv.url == f"http://127.0.0.1:{srv.port}"


def test_content_type_comes_from_manifest(srv: SnapshotServer) -> None:
    _, headers, body = fetch(srv, "/robots.txt")
    assert headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert headers["Last-Modified"] == entry("state-1", "/robots.txt")["last_modified"]
    assert b"Crawl-delay: 1" in body


@pytest.mark.parametrize(
    "if_none_match",
    ["{etag}", "W/{etag}", "*", '"nope", {etag}', 'W/"nope",W/{etag}'],
)
def test_if_none_match_gives_304(srv: SnapshotServer, if_none_match: str) -> None:
    etag = strong_etag(file_bytes("state-1", LISTING))
    status, headers, body = fetch(
        srv, LISTING, headers={"If-None-Match": if_none_match.format(etag=etag)}
    )
    assert (status, body) == (304, b"")
    assert headers["ETag"] == etag
    assert headers["Last-Modified"] == DAY1


@pytest.mark.parametrize(
    "if_modified_since", [DAY1, "Tue, 20 Jan 2026 16:00:01 GMT", "Sat, 01 Jan 2030 00:00:00 GMT"]
)
def test_if_modified_since_not_earlier_gives_304(
    srv: SnapshotServer, if_modified_since: str
) -> None:
    status, headers, body = fetch(srv, LISTING, headers={"If-Modified-Since": if_modified_since})
    assert (status, body) == (304, b"")
    assert headers["ETag"] == strong_etag(file_bytes("state-1", LISTING))
    assert headers["Last-Modified"] == DAY1


@pytest.mark.parametrize(
    "if_modified_since", ["Tue, 20 Jan 2026 15:59:59 GMT", "Mon, 01 Jan 2001 00:00:00 GMT", "junk"]
)
def test_if_modified_since_older_or_invalid_gives_200(
    srv: SnapshotServer, if_modified_since: str
) -> None:
    status, _, body = fetch(srv, LISTING, headers={"If-Modified-Since": if_modified_since})
    assert status == 200
    assert body == file_bytes("state-1", LISTING)


def test_if_none_match_takes_precedence_over_if_modified_since(srv: SnapshotServer) -> None:
    headers = {"If-None-Match": '"stale"', "If-Modified-Since": "Sat, 01 Jan 2030 00:00:00 GMT"}
    status, _, body = fetch(srv, LISTING, headers=headers)
    assert status == 200
    assert body == file_bytes("state-1", LISTING)


def test_301_location_is_on_own_server(srv2: SnapshotServer) -> None:
    old = "/en/news/qs-ranking-2018"
    status, headers, body = fetch(srv2, old)
    assert status == 301
    assert headers["Location"] == srv2.url + entry("state-2", old)["location"]
    assert headers["Location"].startswith(f"http://127.0.0.1:{srv2.port}/en/news/")
    assert body == file_bytes("state-2", old)
    assert "ETag" not in headers


@pytest.mark.parametrize(
    ("target", "code"),
    [
        ("/en/news/aalto-10-km-5-km-sports-event-cancelled", 404),
        ("/en/news/decorations-and-current-affairs-at-the-provosts-morning-coffee", 410),
    ],
)
def test_removed_pages_answer_with_manifest_error_page(
    srv2: SnapshotServer, target: str, code: int
) -> None:
    status, headers, body = fetch(srv2, target)
    assert status == code
    assert body == file_bytes("state-2", target)
    assert headers["Content-Type"].startswith("text/html")
    assert "Last-Modified" not in headers


@pytest.mark.parametrize(
    ("target", "key"),
    [
        ("/en/news?page=1&utm_source=newsletter&utm_medium=email", LISTING),
        ("/en/news?utm_campaign=x&page=1&fbclid=abc", LISTING),
        ("/en/news?gclid=1", "/en/news"),
        ("/en/news?utm_source=a&fbclid=b", "/en/news"),
    ],
)
def test_tracking_parameters_are_ignored(srv: SnapshotServer, target: str, key: str) -> None:
    status, headers, body = fetch(srv, target)
    assert status == 200
    assert body == file_bytes("state-1", key)
    assert headers["ETag"] == strong_etag(body)


@pytest.mark.parametrize(
    "target",
    ["/en/no-such-page", "/favicon.ico", "/themes/custom/aalto/style.css", "/en/news?foo=1"],
)
def test_unknown_urls_are_404_with_not_found_page(srv: SnapshotServer, target: str) -> None:
    status, headers, body = fetch(srv, target)
    not_found = MANIFEST["states"]["state-1"]["not_found"]
    assert status == 404
    assert body == (ROOT / not_found["file"]).read_bytes()
    assert headers["Content-Type"] == not_found["content_type"]
    assert headers["Content-Length"] == str(len(body))


def test_head_sends_headers_only(srv: SnapshotServer) -> None:
    expected = file_bytes("state-1", LISTING)
    status, headers, body = fetch(srv, LISTING, method="HEAD")
    assert (status, body) == (200, b"")
    assert headers["Content-Length"] == str(len(expected))
    assert headers["ETag"] == strong_etag(expected)
    assert fetch(srv, "/nope", method="HEAD")[:3:2] == (404, b"")


def test_keep_alive_serves_several_requests_on_one_connection(srv: SnapshotServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        for target in ("/en", "/nope", "/en/news", "/en"):
            conn.request("GET", target)
            body = conn.getresponse().read()
            if target != "/nope":
                assert body == file_bytes("state-1", target)
    finally:
        conn.close()
    assert [r.status for r in srv.requests] == [200, 404, 200, 200]


def test_set_state_switches_content_live(srv: SnapshotServer) -> None:
    assert fetch(srv, NEW_ON_DAY2)[0] == 404
    day1_listing = fetch(srv, "/en/news")[2]
    srv.set_state("state-2")
    assert srv.state == "state-2"
    status, headers, body = fetch(srv, NEW_ON_DAY2)
    assert status == 200
    assert body == file_bytes("state-2", NEW_ON_DAY2)
    assert headers["Last-Modified"] == entry("state-2", NEW_ON_DAY2)["last_modified"]
    assert fetch(srv, "/en/news")[2] == file_bytes("state-2", "/en/news") != day1_listing


def test_unknown_state_is_rejected(srv: SnapshotServer) -> None:
    with pytest.raises(ValueError, match="state-9"):
        SnapshotServer("state-9")
    with pytest.raises(ValueError):
        srv.set_state("state-9")
    assert srv.state == "state-1"


def test_transform_rewrites_body_and_etag() -> None:
    calls: list[str] = []

    def drift(path: str, body: bytes) -> bytes:
        calls.append(path)
        return body.replace(b"aalto-listing-row", b"aalto-teaser-v2")

    original = file_bytes("state-1", LISTING)
    with SnapshotServer(transform=drift) as srv:
        status, headers, body = fetch(srv, LISTING + "&utm_source=x")
        assert status == 200
        assert b"aalto-teaser-v2" in body
        assert b"aalto-listing-row" not in body
        assert headers["ETag"] == strong_etag(body) != strong_etag(original)
        assert headers["Content-Length"] == str(len(body))
        assert fetch(srv, LISTING, headers={"If-None-Match": strong_etag(original)})[0] == 200
        assert fetch(srv, LISTING, headers={"If-None-Match": headers["ETag"]})[0] == 304
        assert fetch(srv, "/nope")[2] == (ROOT / "state-1/_errors/404.html").read_bytes()
    assert calls == [LISTING, LISTING, LISTING]


def test_request_log_records_method_target_status_and_headers(srv: SnapshotServer) -> None:
    etag = strong_etag(file_bytes("state-1", "/en"))
    fetch(srv, "/en", headers={"User-Agent": "aaltowatch-test/1"})
    fetch(srv, "/en", headers={"If-None-Match": etag})
    fetch(srv, "/en?utm_source=x", method="HEAD")
    fetch(srv, "/missing")
    records = srv.requests
    assert [(r.method, r.path, r.status) for r in records] == [
        ("GET", "/en", 200),
        ("GET", "/en", 304),
        ("HEAD", "/en?utm_source=x", 200),
        ("GET", "/missing", 404),
    ]
    assert records[0].header("user-agent") == "aaltowatch-test/1"
    assert records[1].headers["If-None-Match"] == etag
    assert sum(r.status == 304 for r in records) == 1
    srv.clear_requests()
    assert srv.requests == []


def test_other_methods_and_malformed_requests_are_logged_too(srv: SnapshotServer) -> None:
    assert fetch(srv, "/en", method="POST")[0] == 501
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1 extra-word\r\n\r\n")
        answer = b"".join(iter(lambda: sock.recv(4096), b""))
    assert b"Error code: 400" in answer  # http.server answers such lines HTTP/0.9-style
    assert [(r.method, r.status) for r in srv.requests] == [("POST", 501), ("-", 400)]
    assert srv.requests[0].path == "/en"


def test_one_log_line_per_request(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO, logger="aaltowatch.testing.snapshot_server")
    with SnapshotServer(log=True) as srv:
        fetch(srv, "/en")
        fetch(srv, "/missing")
    lines = [
        r.getMessage() for r in caplog.records if r.name == "aaltowatch.testing.snapshot_server"
    ]
    assert [line.split()[:3] for line in lines] == [
        ["GET", "/en", "200"],
        ["GET", "/missing", "404"],
    ]
    assert capsys.readouterr().out.splitlines() == lines


def test_quiet_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    with SnapshotServer() as srv:
        fetch(srv, "/en")
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(("state", "count"), [("state-1", 112), ("state-2", 119)])
def test_every_manifest_url_is_served_as_listed(state: str, count: int) -> None:
    urls = MANIFEST["states"][state]["urls"]
    assert len(urls) == count
    with SnapshotServer(state) as srv:
        for key, meta in urls.items():
            status, headers, body = fetch(srv, key)
            assert status == meta["status"], key
            assert body == (ROOT / meta["file"]).read_bytes(), key
            assert headers["Content-Type"] == meta["content_type"], key
            assert headers.get("Last-Modified") == meta["last_modified"], key
        assert len(srv.requests) == count


def test_stop_closes_idle_keep_alive_connections() -> None:
    srv = SnapshotServer().start()
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    conn.request("GET", "/en")
    conn.getresponse().read()
    srv.stop()
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        conn.request("GET", "/en")
        conn.getresponse()
    conn.close()
    srv.stop()  # idempotent


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}


def test_snapshot_root_does_not_depend_on_cwd(tmp_path: Path) -> None:
    code = "from aaltowatch.testing.snapshot_server import snapshot_root as r; print(r())"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=_env(), capture_output=True, text=True
    )
    assert Path(out.stdout.strip()) == ROOT
    assert (ROOT / "manifest.json").is_file()


def test_cli_serves_in_foreground_until_ctrl_c(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "aaltowatch.testing.snapshot_server",
        "--state",
        "state-2",
        "--port",
        "0",
    ]
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        url = next(word for word in banner.split() if word.startswith("http://127.0.0.1:"))
        conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=5)
        conn.request("GET", NEW_ON_DAY2)
        assert conn.getresponse().status == 200
        conn.close()
        assert proc.stdout.readline().split()[:3] == ["GET", NEW_ON_DAY2, "200"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
