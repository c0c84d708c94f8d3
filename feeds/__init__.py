"""Feeds staff can subscribe to: RSS 2.0 + Atom from Archive queries, OPML, index page, server.

Data flows one way (docs/DESIGN.md §1): feeds read the archive through `storage.Archive` and never
see Scrapy. Everything written here is sanitised, deterministic and written atomically.
"""
