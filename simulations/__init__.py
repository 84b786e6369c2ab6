"""Load, what-if and benchmark runs against the real queue system.

``simulations.bench`` holds the benchmarks whose figures the docs quote
(``python -m simulations.bench --help``).
"""
