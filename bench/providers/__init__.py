"""Providers used by the benchmark suite."""
