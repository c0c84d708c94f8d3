"""Benchmarks (speed, memory), printed as JSON; never part of the test run."""
