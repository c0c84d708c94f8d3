"""Each fault of the fault server must behave as documented, or reliability tests prove nothing."""

from __future__ import annotations

import hashlib
import http.client
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests import faultserver
from tests.faultserver import (
    INVALID_HTML,
    NO_RESPONSE,
    Fault,
    FaultServer,
    Page,
    html_page,
    huge_chunks,
    robots_page,
    site_pages,
)

MiB = 2**20


def fetch(
    srv: FaultServer,
    target: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    timeout: float = 5,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        conn.request(method, target, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


@pytest.fixture
def srv() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


def test_default_site_is_a_tiny_aalto_like_site(srv: FaultServer) -> None:
    status, headers, robots = fetch(srv, "/robots.txt")
    assert status == 200
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert b"Disallow: /en/search" in robots
    listing = fetch(srv, "/en/news")[2].decode()
    assert listing.count('class="aalto-listing-row__link"') == len(faultserver.STORIES)
    for slug, (title, *_) in faultserver.STORIES.items():
        assert f'href="/en/news/{slug}"' in listing
        status, _, article = fetch(srv, f"/en/news/{slug}")
        assert status == 200
        assert f'<h1 class="aalto-article__title"><span>{title}</span></h1>' in article.decode()
        assert f'href="https://www.aalto.fi/en/news/{slug}"' in article.decode()
    assert fetch(srv, "/en/nothing-here")[0] == 404


def test_faults_are_consumed_in_order_then_default(srv: FaultServer) -> None:
    srv.set_page("/x", Page(Fault.ok(b"fine"), [Fault.status(500), Fault.status(500)]))
    assert srv.pending("/x") == 2
    answers = [fetch(srv, "/x")[::2] for _ in range(4)]
    assert answers[:2] == [(500, b"<html><body><h1>500</h1></body></html>")] * 2
    assert answers[2:] == [(200, b"fine")] * 2
    assert srv.pending("/x") == 0


def test_add_faults_on_a_running_route(srv: FaultServer) -> None:
    srv.add_faults("/en/news", Fault.status(503), Fault.status(502, b"bad gateway"))
    assert [fetch(srv, "/en/news")[0] for _ in range(3)] == [503, 502, 200]
    assert [r.status for r in srv.requests] == [503, 502, 200]


def test_429_carries_retry_after(srv: FaultServer) -> None:
    srv.add_faults("/en/news", Fault.status(429, headers={"Retry-After": "1"}))
    status, headers, _ = fetch(srv, "/en/news")
    assert (status, headers["Retry-After"]) == (429, "1")


def test_reset_aborts_with_rst_and_no_response(srv: FaultServer) -> None:
    srv.add_faults("/en/news", Fault.reset())
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        sock.sendall(b"GET /en/news HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            sock.recv(1024)
    srv.add_faults("/en/news", Fault.reset())
    with pytest.raises(ConnectionResetError):  # includes http.client.RemoteDisconnected
        fetch(srv, "/en/news")
    assert fetch(srv, "/en/news")[0] == 200
    assert [r.status for r in srv.requests] == [NO_RESPONSE, NO_RESPONSE, 200]


def test_truncated_body_is_an_incomplete_read(srv: FaultServer) -> None:
    srv.add_faults("/en/news", Fault.truncated(b"<html><body>half", declared_length=1000))
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    conn.request("GET", "/en/news")
    resp = conn.getresponse()
    assert resp.headers["Content-Length"] == "1000"
    with pytest.raises(http.client.IncompleteRead) as excinfo:
        resp.read()
    assert excinfo.value.partial == b"<html><body>half"
    conn.close()
    with pytest.raises(ValueError):
        Fault.truncated(b"abc", declared_length=3)


def test_slow_waits_then_answers(srv: FaultServer) -> None:
    srv.add_faults("/en/news", Fault.slow(0.3), Fault.slow(0.2, then=Fault.status(503)))
    start = time.monotonic()
    assert fetch(srv, "/en/news")[0] == 200
    assert fetch(srv, "/en/news")[0] == 503
    assert 0.5 <= time.monotonic() - start < 10


def test_slow_beyond_client_timeout_times_out(srv: FaultServer) -> None:
    srv.add_faults("/en/news", Fault.slow(1))
    with pytest.raises(TimeoutError):
        fetch(srv, "/en/news", timeout=0.2)


def test_slow_is_capped_server_side(monkeypatch: pytest.MonkeyPatch, srv: FaultServer) -> None:
    monkeypatch.setattr(faultserver, "MAX_SLOW_SECONDS", 0.2)
    srv.add_faults("/en/news", Fault.slow(3600, then=Fault.slow(3600)))
    start = time.monotonic()
    assert fetch(srv, "/en/news")[0] == 200
    assert time.monotonic() - start < 30


def test_a_slow_default_must_end_in_an_answer(srv: FaultServer) -> None:
    with pytest.raises(ValueError):
        srv.set_page("/s", Page(Fault.slow(0.1, then=Fault.slow(0.1))))
    srv.set_page("/s", Page(Fault.slow(0.1, then=Fault.ok(b"late"))))
    assert fetch(srv, "/s")[::2] == (200, b"late")


def test_stop_interrupts_a_slow_response() -> None:
    srv = FaultServer().start()
    srv.add_faults("/en/news", Fault.slow(60))
    errors: list[BaseException] = []

    def client() -> None:
        try:
            fetch(srv, "/en/news")
        except (ConnectionError, http.client.HTTPException) as exc:
            errors.append(exc)

    thread = threading.Thread(target=client)
    thread.start()
    time.sleep(0.2)
    start = time.monotonic()
    srv.stop()
    thread.join(timeout=30)
    assert time.monotonic() - start < 30  # not the minute the response would take
    assert len(errors) == 1
    assert [r.status for r in srv.requests] == [NO_RESPONSE]


def test_redirect_is_absolute_on_own_server_and_loops_are_expressible(srv: FaultServer) -> None:
    srv.set_page("/a", Page(Fault.redirect("/b")))
    srv.set_page("/b", Page(Fault.redirect("/a", code=302)))
    srv.set_page("/out", Page(Fault.redirect("https://acre.aalto.fi/x")))
    status, headers, _ = fetch(srv, "/a")
    assert (status, headers["Location"]) == (301, f"{srv.url}/b")
    status, headers, _ = fetch(srv, "/b")
    assert (status, headers["Location"]) == (302, f"{srv.url}/a")
    assert fetch(srv, "/out")[1]["Location"] == "https://acre.aalto.fi/x"


def test_ok_supports_etag_and_last_modified(srv: FaultServer) -> None:
    body = b"<html>stable</html>"
    last_modified = "Tue, 20 Jan 2026 16:00:00 GMT"
    srv.set_page("/p", Page(Fault.ok(body, last_modified=last_modified)))
    status, headers, got = fetch(srv, "/p")
    etag = '"' + hashlib.sha256(body).hexdigest() + '"'
    assert (status, got, headers["ETag"], headers["Last-Modified"]) == (
        200,
        body,
        etag,
        last_modified,
    )
    assert fetch(srv, "/p", headers={"If-None-Match": f"W/{etag}"})[::2] == (304, b"")
    assert fetch(srv, "/p", headers={"If-Modified-Since": last_modified})[0] == 304
    assert fetch(srv, "/p", headers={"If-None-Match": '"old"'})[0] == 200


def test_huge_body_streams_declared_size() -> None:
    with FaultServer({"/big": Page(Fault.huge(20))}) as srv:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        conn.request("GET", "/big")
        resp = conn.getresponse()
        assert resp.headers["Content-Length"] == str(20 * MiB)
        first = resp.read(64)
        total = len(first)
        while chunk := resp.read(MiB):
            total += len(chunk)
            last = chunk
        conn.close()
    assert total == 20 * MiB
    assert first.startswith(b"<!DOCTYPE html><html><body>")
    assert last.endswith(b"</body></html>\n")


def test_huge_chunked_body_has_no_content_length() -> None:
    with FaultServer({"/big": Page(Fault.huge(2, chunked=True))}) as srv:
        status, headers, body = fetch(srv, "/big")
        assert status == 200
        assert headers["Transfer-Encoding"] == "chunked"
        assert "Content-Length" not in headers
        assert len(body) == 2 * MiB


def test_client_abandoning_a_huge_body_leaves_server_usable() -> None:
    with FaultServer({"/big": Page(Fault.huge(50)), "/ok": Page(Fault.ok(b"ok"))}) as srv:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        conn.request("GET", "/big")
        assert len(conn.getresponse().read(MiB)) == MiB
        conn.close()
        assert fetch(srv, "/ok")[::2] == (200, b"ok")
    with pytest.raises(ValueError):
        Fault.huge(10_000)


@pytest.mark.parametrize("size", [0, 5, 43, 44, 1000, 64 * 1024 + 7, 3 * MiB])
def test_huge_chunks_yield_exactly_size_bytes(size: int) -> None:
    assert sum(len(piece) for piece in huge_chunks(size)) == size


def test_charset_pages(srv: FaultServer) -> None:
    srv.set_page("/wrong", html_page("<p>Päivää, Åbo</p>", encoding="cp1252", declared="utf-8"))
    srv.set_page("/missing", html_page("<p>Päivää</p>", declared=None))
    _, headers, body = fetch(srv, "/wrong")
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert body == "<p>Päivää, Åbo</p>".encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    _, headers, body = fetch(srv, "/missing")
    assert headers["Content-Type"] == "text/html"
    assert body.decode("utf-8") == "<p>Päivää</p>"


def test_invalid_html_is_served_verbatim(srv: FaultServer) -> None:
    srv.set_page("/broken", Page(Fault.ok(INVALID_HTML)))
    assert fetch(srv, "/broken")[2] == INVALID_HTML


def test_robots_is_configurable() -> None:
    pages = site_pages(disallow=["/en/news/second-story"])
    with FaultServer(pages) as srv:
        robots = fetch(srv, "/robots.txt")[2].decode()
        assert robots.splitlines() == ["User-agent: *", "Disallow: /en/news/second-story"]
        srv.set_page("/robots.txt", robots_page([], crawl_delay=0.5, sitemap="/sitemap.xml"))
        robots = fetch(srv, "/robots.txt")[2].decode()
    assert robots == "User-agent: *\nCrawl-delay: 0.5\n\nSitemap: /sitemap.xml\n"


def test_query_routes_fall_back_to_the_path_route(srv: FaultServer) -> None:
    srv.set_page("/en/news?page=1", Page(Fault.ok(b"page one")))
    assert fetch(srv, "/en/news?page=1")[2] == b"page one"
    assert b"aalto-listing-row" in fetch(srv, "/en/news?page=2")[2]


def test_request_cap_answers_503_and_closes() -> None:
    with FaultServer(max_requests=2) as srv:
        assert [fetch(srv, "/en/news")[0] for _ in range(2)] == [200, 200]
        status, headers, body = fetch(srv, "/en/news")
        assert (status, headers["Connection"], body) == (503, "close", b"request cap reached")


def test_head_sends_headers_only(srv: FaultServer) -> None:
    status, headers, body = fetch(srv, "/en/news", method="HEAD")
    assert (status, body) == (200, b"")
    assert int(headers["Content-Length"]) == len(fetch(srv, "/en/news")[2])


def test_request_log_keeps_headers_for_politeness_checks(srv: FaultServer) -> None:
    fetch(srv, "/robots.txt", headers={"User-Agent": "aaltowatch-test"})
    fetch(srv, "/en/news?utm_source=x")
    records = srv.requests
    assert [(r.method, r.path, r.status) for r in records] == [
        ("GET", "/robots.txt", 200),
        ("GET", "/en/news?utm_source=x", 200),
    ]
    assert records[0].header("USER-AGENT") == "aaltowatch-test"
    srv.clear_requests()
    assert srv.requests == []
