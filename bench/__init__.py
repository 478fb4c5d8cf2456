"""Benchmarks, run on demand (``make bench`` or ``python -m bench.<name>``), never in the test suite.

Each prints its figures next to a baseline measured in the same run and ends
with one ``RESULT key=value ...`` line.
"""
