"""Runnable experiments: a config and main() each (benchmarks in benchmarks/)."""
