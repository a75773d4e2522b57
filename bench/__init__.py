"""Benchmarks: each compares Trainyard's way against a baseline measured in the same run."""
