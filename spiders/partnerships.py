"""Partnerships: the collaboration hubs in en/fi/sv and every collaboration page they lead to."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy import Request
from scrapy.http import Response

from aaltowatch.core.urls import HUB_PATHS, PARTNERSHIPS, content_kind
from spiders.base import AaltoSpider


class PartnershipsSpider(AaltoSpider):
    section = PARTNERSHIPS

    def discover(self) -> Iterator[Request]:
        """The hubs, every run (they lead to new partner pages); the rest as planned."""
        for path in HUB_PATHS.values():
            self.budget.take()
            yield self.page_request(self.canonical(path), priority=5)

    def parse_page(self, response: Response, moved_from: str | None = None) -> Iterator[Any]:
        """A collaboration page is content and a hub: store it, then follow its section links."""
        yield from super().parse_page(response, moved_from)
        if response.status != 200 or not hasattr(response, "css"):
            return
        hrefs = response.css("a::attr(href)").getall()
        yield from self.follow_links("hub", hrefs, lambda href: self._section_link(response, href))

    def _section_link(self, response: Response, href: str) -> Iterator[Any]:
        url = self.canonical(response.urljoin(href))
        kind = content_kind(url)
        if kind and kind[0] == self.kind:
            yield from self.want(url)
