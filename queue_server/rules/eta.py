"""Estimated waits: people ahead, counters serving the service, and its mean service time."""

from __future__ import annotations

from dataclasses import dataclass

# Below this many completions today the configured typical time is a better guess than the mean.
MIN_SAMPLES_FOR_MEAN = 3


@dataclass(frozen=True)
class ServiceLoad:
    waiting: int
    active_counters: int
    mean_service_s: float


def mean_service_seconds(total_ms: int, completed: int, typical_s: float) -> float:
    if completed < MIN_SAMPLES_FOR_MEAN:
        return typical_s
    return total_ms / completed / 1000


def estimate_wait_seconds(ahead: int, active_counters: int, mean_service_s: float) -> int | None:
    """Seconds until a citizen with ``ahead`` people in front is called; None if no counter
    serving the service is open (the wait is then unknown, not infinite)."""
    if active_counters <= 0:
        return None
    return round(ahead * mean_service_s / active_counters)
