"""Closed forms of the M/M/c queue (Erlang C), for the staffing advisor's first cut and to
check the simulator.

With arrival rate ``lam``, service rate ``mu`` per counter, ``c`` counters and offered load
``a = lam / mu`` (< c):

- probability of waiting (Erlang C): ``C(c, a) = (a^c / c!) · c/(c − a) / (Σ_{k<c} a^k/k! +
  (a^c / c!) · c/(c − a))``, computed with the stable Erlang B recursion
  ``B(0) = 1, B(k) = a·B(k−1) / (k + a·B(k−1))`` and ``C = c·B / (c − a·(1 − B))``;
- mean wait: ``E[W] = C / (c·mu − lam)``;
- tail: ``P(W > t) = C · exp(−(c·mu − lam)·t)``, so the share called within ``t`` is
  ``1 − P(W > t)``.
"""

from __future__ import annotations

import math


def erlang_b(c: int, a: float) -> float:
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival waits; 1 when the counters cannot keep up (a ≥ c)."""
    if c <= 0 or a >= c:
        return 1.0
    if a <= 0:
        return 0.0
    b = erlang_b(c, a)
    return c * b / (c - a * (1 - b))


def mean_wait(c: int, lam: float, mu: float) -> float:
    """E[W] in the time unit of 1/lam; infinite when unstable."""
    if c * mu <= lam:
        return math.inf
    return erlang_c(c, lam / mu) / (c * mu - lam)


def wait_exceeds(c: int, lam: float, mu: float, t: float) -> float:
    """P(W > t)."""
    if c * mu <= lam:
        return 1.0
    return erlang_c(c, lam / mu) * math.exp(-(c * mu - lam) * t)


def servers_for(lam: float, mu: float, target_wait: float, target_share: float,
                max_servers: int = 200) -> int:
    """The fewest counters with P(W ≤ target_wait) ≥ target_share (at least 1 if lam > 0)."""
    if lam <= 0:
        return 0
    c = max(1, math.floor(lam / mu) + 1)
    while c < max_servers and 1 - wait_exceeds(c, lam, mu, target_wait) < target_share:
        c += 1
    return c
