"""Benchmarks as plain functions returning their figures (pytest wrappers live in tests/benchmarks, `dovos bench` reuses them)."""
