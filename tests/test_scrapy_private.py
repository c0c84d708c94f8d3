"""The private Scrapy and Twisted names our code leans on, in one place.

`spiders/handlers.py` subclasses Scrapy's lenient HTTP/1.1 client classes to bound response
headers, and `spiders/bounds.py` closes the spider through the engine's private slot. None of
it is public API: a Scrapy release may move or reshape it without notice. These tests name
each piece, so an upgrade fails here with the name that moved, not deep in a crawl.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

PRIVATE_NAMES = [
    ("scrapy.core.downloader.handlers.http11", "_LenientHTTP11ClientFactory"),
    ("scrapy.core.downloader.handlers.http11", "_LenientHTTP11ClientProtocol"),
    ("scrapy.core.downloader.handlers.http11", "_LenientHTTPClientParser"),
    ("scrapy.utils.defer", "_schedule_coro"),
]


@pytest.mark.parametrize(("module", "name"), PRIVATE_NAMES, ids=[n for _, n in PRIVATE_NAMES])
def test_private_name_is_where_we_import_it_from(module: str, name: str) -> None:
    assert hasattr(importlib.import_module(module), name), f"{module}.{name} moved"


def test_lenient_factory_and_protocol_keep_the_shape_we_override() -> None:
    from scrapy.core.downloader.handlers import http11

    factory = inspect.signature(http11._LenientHTTP11ClientFactory.__init__).parameters
    assert "quiescentCallback" in factory, "our factory builds the protocol with it"
    assert callable(getattr(http11._LenientHTTP11ClientFactory, "buildProtocol", None))
    assert callable(getattr(http11._LenientHTTP11ClientProtocol, "request", None))
    # The parser swapped into the protocol is a LineReceiver: we count lines and bytes.
    parser = http11._LenientHTTPClientParser
    assert callable(parser.lineReceived) and callable(parser.lineLengthExceeded)
    assert isinstance(parser.MAX_LENGTH, int)


def test_download_handler_keeps_a_twisted_pool_whose_factory_we_replace() -> None:
    from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
    from twisted.web.client import HTTPConnectionPool

    assert "self._pool" in inspect.getsource(HTTP11DownloadHandler.__init__)
    assert hasattr(HTTPConnectionPool, "_factory"), "twisted's pool builds protocols with it"


def test_engine_closes_a_spider_by_the_coroutine_we_schedule() -> None:
    from scrapy.core.engine import ExecutionEngine

    assert inspect.iscoroutinefunction(ExecutionEngine.close_spider_async)
