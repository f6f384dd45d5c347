"""Benchmarks: `make bench` (python -m bench [name ...]) prints figures and ratios."""
