"""PromQL fragments shared by the dashboards.

Every replica exports the same numbers (they live in Redis), so each series arrives once per
scraped replica with a different ``instance``. Each helper first keeps one copy with
``max by (<the contract's labels>)``, and only then sums or divides; a plain ``sum`` would count
every ticket once per replica.
"""

from __future__ import annotations

from typing import Final

JOB: Final = 'job="qms"'
CENTER: Final = 'center=~"$center"'
STAFF: Final = 'staff=~"$staff"'

RANGE: Final = "$__range"
"""The dashboard's (or the panel's) time range, for totals such as "served today"."""

TREND: Final = "1h"
"""Window of the rolling rates and percentiles drawn over time: a center serves a few tickets
an hour per service, so a window of minutes is mostly empty."""


def sel(metric: str, *matchers: str) -> str:
    """``metric{job="qms", <matchers>}``."""
    return metric + "{" + ", ".join((JOB, *matchers)) + "}"


def gauge(metric: str, keys: str, *matchers: str) -> str:
    """A live gauge per ``keys`` (comma-separated labels), one replica's copy."""
    return f"max by ({keys}) ({sel(metric, *matchers)})"


def increase(metric: str, keys: str, window: str, *matchers: str) -> str:
    """Counter increase over ``window`` per ``keys``, one replica's copy."""
    return f"max by ({keys}) (increase({sel(metric, *matchers)}[{window}]))"


def total(inner: str, by: str = "") -> str:
    """Sum of an already de-duplicated expression, per ``by`` or over everything."""
    return f"sum by ({by}) ({inner})" if by else f"sum({inner})"


def ratio(numerator: str, denominator: str) -> str:
    """``numerator / denominator``, with no result where the denominator is 0."""
    return f"{numerator} / ({denominator} > 0)"


def quantile(q: float, histogram: str, keys: str, by: str, window: str, *matchers: str) -> str:
    """``histogram_quantile`` of a contract histogram over ``window``, grouped ``by``.

    ``keys`` are the histogram's own labels (without ``le``), used to drop replica copies.
    """
    buckets = increase(f"{histogram}_bucket", f"{keys}, le", window, *matchers)
    group = f"{by}, le" if by else "le"
    return f"histogram_quantile({q}, sum by ({group}) ({buckets}))"


def mean(histogram: str, keys: str, by: str, window: str, *matchers: str) -> str:
    """Mean of a contract histogram over ``window``: ``_sum`` over ``_count``."""
    return ratio(
        total(increase(f"{histogram}_sum", keys, window, *matchers), by),
        total(increase(f"{histogram}_count", keys, window, *matchers), by),
    )


def satisfied_share(metric: str, keys: str, by: str, window: str, *matchers: str) -> str:
    """Share of ratings at level 4 or 5 (of 1..5) over ``window``."""
    return ratio(
        total(increase(metric, f"{keys}, level", window, *matchers, 'level=~"4|5"'), by),
        total(increase(metric, f"{keys}, level", window, *matchers), by),
    )
