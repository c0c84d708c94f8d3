"""Test doubles aaltowatch owns: local HTTP servers that stand in for www.aalto.fi.

`snapshot_server` serves the bundled offline snapshot (aaltowatch/snapshot/) on 127.0.0.1,
on the reusable `BackgroundHTTPServer` base. Used by the test suite, the benchmark (bench/)
and `aaltowatch demo`; the crawler itself never imports it.
"""
