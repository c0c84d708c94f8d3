"""The only code that touches SQLite: schema migrations and the Archive API."""

from storage.archive import Archive, open_archive

__all__ = ["Archive", "open_archive"]
