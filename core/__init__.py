"""Leaf helpers every app uses: the domain error base and the local clock.

Imports nothing of ours (the import-linter contract in pyproject.toml says so).
"""
