"""Planning, load, what-if and benchmark runs against the real queue system.

- ``simulations.day``: a province's day offline on the engine's rules, with confidence
  intervals (docs/planning.md); ``simulations.staffing``: counters per center and hour for a
  target; ``simulations.live``: the same day through a running server; ``simulations.derive``:
  a demand profile measured from the archive.
- ``simulations.bench``: the benchmarks whose figures the docs quote
  (``python -m simulations.bench --help``).
"""
