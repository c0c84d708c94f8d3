"""Scrapy spiders: navigation only. Page objects in `pages` turn responses into items."""
