"""The HTTP download handler: Scrapy's, with a bound on the response's header section.

DOWNLOAD_MAXSIZE covers only the body. Twisted's client parser keeps every header line it is
sent, so a server whose headers never end would grow the crawler until it is killed. Here
the header section (status line included) may take at most `max_header_bytes` bytes and
MAX_HEADER_LINES lines; past that the connection is dropped and the request fails like any
other network error.

Scrapy builds its parser by swapping the class of the one Twisted creates (see
scrapy.core.downloader.handlers.http11._LenientHTTP11ClientProtocol); this module does the
same with a subclass that counts, so Scrapy's lenient header parsing is kept.
"""

from __future__ import annotations

from functools import partial
from typing import Any, cast

from scrapy.core.downloader.handlers.http11 import (
    HTTP11DownloadHandler,
    _LenientHTTP11ClientFactory,
    _LenientHTTP11ClientProtocol,
    _LenientHTTPClientParser,
)
from scrapy.crawler import Crawler

MAX_HEADER_LINES = 500
"""Header lines per response (Twisted's own HTTP server accepts as many request headers)."""


class HeadersTooLarge(Exception):
    """The response's header section went past the configured bound."""


class _BoundedParser(_LenientHTTPClientParser):
    """Counts the bytes and lines of the header section; raises past the bound."""

    max_header_bytes = 65536
    _header_bytes = 0
    _header_lines = 0

    def lineReceived(self, line: bytes) -> None:
        self._header_bytes += len(line) + 2
        self._header_lines += 1
        if self._header_bytes > self.max_header_bytes or self._header_lines > MAX_HEADER_LINES:
            # HTTP11ClientProtocol.dataReceived turns this into a failed request + disconnect.
            raise HeadersTooLarge(
                f"response headers exceed {self.max_header_bytes} bytes or {MAX_HEADER_LINES} lines"
            )
        super().lineReceived(line)

    def lineLengthExceeded(self, line: bytes) -> None:
        raise HeadersTooLarge(f"a response header line exceeds {self.MAX_LENGTH} bytes")


class _BoundedProtocol(_LenientHTTP11ClientProtocol):
    max_header_bytes = 65536

    def request(self, request: Any) -> Any:
        d = super().request(request)
        parser = self._parser
        if parser is not None:
            parser.__class__ = _BoundedParser
            bounded = cast(_BoundedParser, parser)  # what the line above made it
            bounded.max_header_bytes = self.max_header_bytes
            # One unterminated line is bounded too (Twisted's default is 16 KiB).
            bounded.MAX_LENGTH = min(bounded.MAX_LENGTH, self.max_header_bytes)
        return d


class _BoundedFactory(_LenientHTTP11ClientFactory):
    def __init__(self, *args: Any, max_header_bytes: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_header_bytes = max_header_bytes

    def buildProtocol(self, addr: Any) -> _BoundedProtocol:
        protocol = _BoundedProtocol(self._quiescentCallback)
        protocol.max_header_bytes = self.max_header_bytes
        return protocol


class BoundedHTTPDownloadHandler(HTTP11DownloadHandler):
    """http/https with the header bound of the `max_header_bytes` config value."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        config = crawler.settings.get("AALTOWATCH_CONFIG")
        limit = getattr(config, "max_header_bytes", 65536)
        # Twisted's private pool attribute is typed as the factory class; any callable that
        # builds one is what the pool calls.
        self._pool._factory = partial(_BoundedFactory, max_header_bytes=limit)  # type: ignore[assignment]
