"""Estimated waits: people ahead, counters serving the service, and its mean service time."""

from __future__ import annotations

from dataclasses import dataclass

from queue_server.rules.calendar import Calendar

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


def expected_call(calendar: Calendar, now_ms: int, wait_s: int | None) -> tuple[int | None, bool]:
    """When a citizen with ``wait_s`` of (working) wait ahead is expected to be called, in the
    center's opening time — lunch breaks skipped — and whether that falls after today's
    closing (the kiosk then warns: "may not be served today"). (None, False) when the wait
    is unknown."""
    if wait_s is None:
        return None, False
    at = calendar.wall_after(now_ms, wait_s)
    return at, at is None
