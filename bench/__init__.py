"""Benchmarks: `make bench` runs them all (bench/run.py) and writes build/bench.md."""
