"""Hostile-site tests: one small server per attack class, and an internal service that must
never be reached (tests/hostile/server.py)."""
