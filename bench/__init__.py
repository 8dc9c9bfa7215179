"""Benchmarks, run from the repository root (not installed; see docs/benchmarks.md)."""
