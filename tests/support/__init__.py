"""Helpers shared by the core's tests (importable as ``support`` via pytest's pythonpath)."""
