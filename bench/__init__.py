"""Benchmarks with recorded results (see docs/BENCHMARKS.md)."""
