"""Helpers shared by the benchmarks in bench/ (not part of the camaudit package)."""
