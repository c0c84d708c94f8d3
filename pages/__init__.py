"""Page objects: pure functions from fetched bytes + URL to items (no Scrapy, no database)."""

from pages.article import parse_article
from pages.decode import decode_html
from pages.feed import parse_feed
from pages.listing import parse_listing
from pages.sitemap import parse_sitemap

__all__ = ["decode_html", "parse_article", "parse_feed", "parse_listing", "parse_sitemap"]
