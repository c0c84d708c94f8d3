"""`serve` keeps serving while a crowd of slow clients (more than its open-files limit allows)
trickle their request headers: a reader still gets its feed, and the crowd is hung up on."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CLI, cli_env

OPEN_FILES = 128
SLOW_CLIENTS = 200
LINE_EVERY_S = 1.0
CROWD_FOR_S = 40.0  # the crowd gives up by itself after this (the test never hangs)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`aaltowatch serve --port 0` with RLIMIT_NOFILE lowered to OPEN_FILES."""
    (tmp_path / "changes.xml").write_text(
        "<rss version='2.0'><channel><title>changes</title></channel></rss>", encoding="utf-8"
    )
    cmd = ["prlimit", f"--nofile={OPEN_FILES}:{OPEN_FILES}", "--", *CLI]
    proc = subprocess.Popen(
        [*cmd, "--feeds-dir", str(tmp_path), "serve", "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=cli_env(),
    )
    try:
        assert proc.stderr is not None
        line, deadline = "", time.monotonic() + 60
        while "http://" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, line
        yield match.group(0), proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _slow_client(
    host: str, port: int, stop: threading.Event, settled: threading.Semaphore, hung_up: list[int]
) -> None:
    """Sends a request line, then one header line every LINE_EVERY_S, never the blank line."""
    try:
        with socket.create_connection((host, port), timeout=10) as conn:
            settled.release()
            conn.sendall(b"GET /changes.xml HTTP/1.1\r\nHost: x\r\n")
            n = 0
            while not stop.wait(LINE_EVERY_S):
                n += 1
                conn.sendall(f"X-Slow-{n}: {'a' * 20}\r\n".encode())
    except OSError:
        settled.release()
        hung_up.append(1)  # closed (or never let in): what a bound does


def test_a_reader_gets_its_feed_while_slow_clients_crowd_the_server(
    served: tuple[str, subprocess.Popen[str]],
) -> None:
    url, proc = served
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    stop, settled, hung_up = threading.Event(), threading.Semaphore(0), []
    crowd = [
        threading.Thread(
            target=_slow_client, args=(host, int(port), stop, settled, hung_up), daemon=True
        )
        for _ in range(SLOW_CLIENTS)
    ]
    timer = threading.Timer(CROWD_FOR_S, stop.set)
    timer.start()
    try:
        for client in crowd:
            client.start()
        for _ in crowd:  # every slow client is in (or gave up connecting), trickling
            assert settled.acquire(timeout=30)
        time.sleep(2 * LINE_EVERY_S)
        assert proc.poll() is None
        with urllib.request.urlopen(url + "changes.xml", timeout=20) as resp:
            assert resp.status == 200 and b"<title>changes</title>" in resp.read()
    finally:
        stop.set()
        timer.cancel()
        for client in crowd:
            client.join(timeout=15)
    assert hung_up, "no slow client was ever hung up on"
    assert proc.poll() is None  # still serving


def _trickle(url: str, lines: int) -> bytes:
    """A client that sends a header line every 0.2 s: what the server answers (b"" = hung up)."""
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"GET /changes.xml HTTP/1.1\r\nHost: x\r\n")
        try:
            for n in range(lines):
                time.sleep(0.2)
                conn.sendall(f"X-Slow-{n}: a\r\n".encode())
            return conn.recv(1024)
        except OSError:
            return b""


def test_a_request_head_slower_than_the_deadline_is_hung_up_on(tmp_path: Path) -> None:
    """Each line comes well within the idle timeout; the whole head does not."""
    from feeds.serve import FeedServer

    (tmp_path / "changes.xml").write_text("<rss version='2.0'/>", encoding="utf-8")
    with FeedServer(tmp_path, port=0, idle_timeout=5, head_timeout=0.5) as running:
        assert _trickle(running.url, 100) == b""
        with urllib.request.urlopen(running.url + "changes.xml", timeout=10) as resp:
            assert resp.status == 200


def test_at_the_cap_the_longest_waiting_connection_makes_room(tmp_path: Path) -> None:
    from feeds.serve import FeedServer

    (tmp_path / "changes.xml").write_text("<rss version='2.0'/>", encoding="utf-8")
    with FeedServer(tmp_path, port=0, head_timeout=60, max_connections=2) as running:
        host, port = running.url.removeprefix("http://").rstrip("/").split(":")
        oldest = socket.create_connection((host, int(port)), timeout=10)
        with socket.create_connection((host, int(port)), timeout=10) as newer:
            with urllib.request.urlopen(running.url + "changes.xml", timeout=10) as resp:
                assert resp.status == 200
            with oldest:
                assert oldest.recv(1) == b""  # hung up on to make room
            newer.sendall(b"GET /changes.xml HTTP/1.0\r\n\r\n")
            assert newer.recv(64).startswith(b"HTTP/1.0 200")  # still served


def test_when_every_connection_is_busy_a_newcomer_is_turned_away(tmp_path: Path) -> None:
    """A reader that stops reading a big response keeps its connection busy: at a cap of one,
    the next client is closed at once (not queued behind it), and served once it is done."""
    from feeds.serve import FeedServer

    (tmp_path / "big.xml").write_bytes(b"<rss>" + b"x" * (32 * 2**20) + b"</rss>")
    with FeedServer(tmp_path, port=0, idle_timeout=10, max_connections=1) as running:
        host, port = running.url.removeprefix("http://").rstrip("/").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as stalled:
            stalled.sendall(b"GET /big.xml HTTP/1.0\r\n\r\n")
            assert stalled.recv(12) == b"HTTP/1.0 200"  # being served, then it stops reading
            with socket.create_connection((host, int(port)), timeout=10) as newcomer:
                newcomer.sendall(b"GET /big.xml HTTP/1.0\r\n\r\n")
                assert newcomer.recv(64) == b""
            while stalled.recv(2**20):  # read it to the end: the connection is free again
                pass
        with urllib.request.urlopen(running.url + "big.xml", timeout=10) as resp:
            assert resp.status == 200
