"""The ``/metrics`` collector: every metric of docs/metrics.md, read from Redis (DESIGN.md §7).

The projection of each center's event stream keeps counters and histogram buckets in its
``m`` hash (layout: :mod:`queue_server.metric_layout`, rules: :mod:`queue_server.projections`).
A scrape first brings the projection up to date (:class:`queue_server.projector.Projector`),
so ``/metrics`` is current and identical from every replica, then starts one
``snapshot(metrics=True)`` per center
at once, so the ``ScriptRunner`` batches them into pipelines (a handful of round trips, not one
per center or series); the live gauges come from the same snapshots. The async read
(:func:`read_snapshots`, the only part that can hang) is apart from the pure build
(:func:`build_families`); :func:`read_families` does both. :func:`render` writes the text
format byte for byte as prometheus_client's ``generate_latest`` does for :func:`to_metrics` of
the same families (a test holds it to that), at a fraction of its cost: a busy day is some
30,000 series.

Every replica writes the same bytes and every counter only grows: time-dependent values (oldest
wait, paused for, the activity in progress added to staff time) use the center's Redis clock
(the snapshot's ``now``, as the scripts do) rounded down to the second. Series whose labels
the configuration knows (center × service, levels, states, a staff member's activities) are
exported at 0 before their first event, so ``increase()`` counts that event too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from queue_server import metric_layout as layout
from queue_server.engine import Engine
from queue_server.projections import COUNTER_VIEW, parse_counter_view
from queue_server.projector import Projector
from queue_server.province import Center, Province
from queue_server.stream_ids import id_tuple

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LEVELS = ("1", "2", "3", "4", "5")
COUNTER_STATES = ("open", "paused", "closed")
ACTIVITIES = ("serving", "idle", "paused")

Labels = tuple[str, ...]


def go_float(value: float) -> str:
    """A number as Prometheus (Go) writes it, by prometheus_client's own helper."""
    return str(floatToGoString(value))  # type: ignore[no-untyped-call]


@dataclass
class Family:
    """A counter or gauge family: label values (``center`` first) and values, in order."""

    name: str                     # as exposed, without a counter's ``_total``
    type: str                     # "counter" or "gauge"
    help: str
    labels: Labels
    rows: list[tuple[Labels, float]] = field(default_factory=list)
    per_ms: bool = False          # kept in milliseconds in Redis, exposed in seconds

    def to_metric(self) -> Metric:
        kind = CounterMetricFamily if self.type == "counter" else GaugeMetricFamily
        metric = kind(self.name, self.help, labels=list(self.labels))
        for values, value in self.rows:
            metric.add_metric(list(values), value)
        return metric


@dataclass
class HistogramFamily:
    """A histogram family; rows keep the hash's non-cumulative bucket counts and sum in ms."""

    name: str
    help: str
    labels: Labels
    bounds: tuple[int, ...]
    rows: list[tuple[Labels, Sequence[int], int]] = field(default_factory=list)
    type: str = "histogram"

    @property
    def les(self) -> Labels:
        """``le`` values as prometheus_client writes them (``60.0`` … ``+Inf``)."""
        return (*(go_float(bound) for bound in self.bounds), "+Inf")

    def to_metric(self) -> Metric:
        metric = HistogramMetricFamily(self.name, self.help, labels=list(self.labels))
        for values, counts, sum_ms in self.rows:
            cumulative, buckets = 0, []
            for le, count in zip(self.les, counts, strict=True):
                cumulative += count
                buckets.append((le, float(cumulative)))
            metric.add_metric(list(values), buckets, sum_ms / 1000)
        return metric


AnyFamily = Family | HistogramFamily


# The contract of docs/metrics.md, in its order: the hash prefix (for a gauge, its name), the
# kind (counter, counter kept in ms, histogram, gauge), the name, the labels after ``center``.
CONTRACT: tuple[tuple[str, str, str, Labels, str], ...] = (
    (layout.ISSUED, "counter", "qms_tickets_issued", ("service", "channel", "priority"),
     "Tickets issued."),
    (layout.CALLS, "counter", "qms_calls", ("service",), "First calls of a ticket to a counter."),
    (layout.RECALLS, "counter", "qms_recalls", ("service",), "Recalls (the ticket called again)."),
    (layout.SERVED, "counter", "qms_served", ("service",), "Tickets completed (done)."),
    (layout.NO_SHOWS, "counter", "qms_no_shows", ("service",), "Tickets marked no-show."),
    (layout.TRANSFERS, "counter", "qms_transfers", ("service",),
     "Tickets transferred out of this service."),
    (layout.CANCELLATIONS, "counter", "qms_cancellations", ("service",), "Tickets cancelled."),
    (layout.EXPIRED, "counter", "qms_expirations", ("service",),
     "Tickets still waiting, called or served when the center's day closed."),
    (layout.RATINGS, "counter", "qms_ratings", ("service", "level"),
     "Satisfaction ratings given."),
    (layout.WAIT, "histogram", "qms_wait_seconds", ("service",),
     "Arrival (check-in, or transfer) to the call, in seconds."),
    (layout.SERVICE_TIME, "histogram", "qms_service_seconds", ("service",),
     "Start of service to completion, in seconds."),
    (layout.STAFF_SERVED, "counter", "qms_staff_served", ("staff",),
     "Tickets this person completed."),
    (layout.STAFF_SERVICE_TIME, "histogram", "qms_staff_service_seconds", ("staff",),
     "This person's service times, in seconds."),
    (layout.STAFF_RECALLS, "counter", "qms_staff_recalls", ("staff",), "Recalls made."),
    (layout.STAFF_NO_SHOWS, "counter", "qms_staff_no_shows", ("staff",), "No-shows marked."),
    (layout.STAFF_TIME, "counter_ms", "qms_staff_time_seconds", ("staff", "activity"),
     "Time at an open counter by activity (serving, idle, paused), in seconds; includes the "
     "activity in progress."),
    (layout.STAFF_PAUSED, "counter_ms", "qms_staff_paused_seconds", ("staff", "reason"),
     "Paused time by reason, in seconds; includes a pause in progress."),
    (layout.STAFF_RATINGS, "counter", "qms_staff_ratings", ("staff", "level"),
     "Ratings of tickets this person completed."),
    ("qms_queue_length", "gauge", "qms_queue_length", ("service",), "Tickets waiting now."),
    ("qms_queue_oldest_wait_seconds", "gauge", "qms_queue_oldest_wait_seconds", ("service",),
     "Wait of the oldest waiting ticket now, in seconds (0 when none)."),
    ("qms_counters", "gauge", "qms_counters", ("state",),
     "Counters by state (open, paused, closed)."),
    ("qms_counter_paused_seconds", "gauge", "qms_counter_paused_seconds", ("counter",),
     "How long this counter has been paused, in seconds (0 unless paused)."),
    ("qms_counter_queue_length", "gauge", "qms_counter_queue_length", ("counter",),
     "Tickets waiting for this one counter (transferred to it), not in qms_queue_length."),
    ("qms_center_wait_target_seconds", "gauge", "qms_center_wait_target_seconds", (),
     "The center's wait target, in seconds."),
    ("qms_projection_lag_seconds", "gauge", "qms_projection_lag_seconds", (),
     "Stream time between the center's newest event and the last one the metrics include."),
)
BOUNDS = {layout.WAIT: layout.WAIT_BUCKETS_S, layout.SERVICE_TIME: layout.SERVICE_BUCKETS_S,
          layout.STAFF_SERVICE_TIME: layout.SERVICE_BUCKETS_S}


def new_families() -> dict[str, AnyFamily]:
    """Empty families of the contract keyed by hash prefix (a gauge by its name), in order."""
    families: dict[str, AnyFamily] = {}
    for key, kind, name, labels, text in CONTRACT:
        if kind == "histogram":
            families[key] = HistogramFamily(name, text, ("center", *labels), BOUNDS[key])
        else:
            families[key] = Family(name, kind.removesuffix("_ms"), text, ("center", *labels),
                                   per_ms=kind.endswith("_ms"))
    families["qms_up"] = Family("qms_up", "gauge", "1 when the collector read Redis.", (),
                                [((), 1.0)])
    return families


@dataclass
class CenterMetrics:
    """One center's metrics hash, parsed (values in the hash's units: ms where per_ms)."""

    counters: dict[str, dict[Labels, int]] = field(default_factory=dict)
    histograms: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    staff: set[str] = field(default_factory=set)

    def counter(self, prefix: str) -> dict[Labels, int]:
        return self.counters.setdefault(prefix, {})

    def histogram(self, prefix: str, label: str, slots: int) -> list[int]:
        rows = self.histograms.setdefault(prefix, {})
        row = rows.get(label)
        if row is None:
            row = rows[label] = [0] * (slots + 1)  # buckets with +Inf, then the sum (ms)
        return row


def parse_metrics_hash(flat: Sequence[Any], families: dict[str, AnyFamily]) -> CenterMetrics:
    """The ``metrics`` hash as HGETALL's flat list. Unknown or malformed fields are skipped:
    a newer script may write fields this collector does not know yet."""
    parsed = CenterMetrics()
    for i in range(0, len(flat) - 1, 2):
        parts = str(flat[i]).split("|")
        family = families.get(parts[0])
        if isinstance(family, Family):
            # prefix|label…: as many parts as the family has labels with ``center``
            if family.type != "counter" or len(parts) != len(family.labels):
                continue
            parsed.counter(parts[0])[tuple(parts[1:])] = int(flat[i + 1])
        elif family is not None and len(parts) == 3:
            slots, slot = len(family.bounds) + 1, parts[2]
            if slot == "sum":
                parsed.histogram(parts[0], parts[1], slots)[slots] = int(flat[i + 1])
            elif slot[:1] == "b" and slot[1:].isdigit() and 1 <= int(slot[1:]) <= slots:
                parsed.histogram(parts[0], parts[1], slots)[int(slot[1:]) - 1] = int(flat[i + 1])
            else:
                continue
        else:
            continue
        if family.labels[1] == "staff":
            parsed.staff.add(parts[1])
    return parsed


def scrape_clock(snapshot: dict[str, Any]) -> int:
    """The center's Redis time rounded down to the second: what time-dependent values use."""
    now = int(snapshot["now"])
    return now - now % 1000


def add_staff_time(parsed: CenterMetrics, views: Iterable[dict[str, Any]],
                   clock: int) -> None:
    """Staff time by activity, including what is in progress up to ``clock``.

    The projection books, in whole seconds, a counter's time ``open`` and ``paused`` when its
    state ends and a ticket's time in hand (``serving``) when it leaves the counter
    (queue_server/projections.py); idle is open minus serving. A span in progress adds
    ``clock - since`` (``clock - held_since`` for the ticket in hand), from the projection's
    own view of each counter; ``clock`` is rounded down to the second like the booked spans
    and stops at the first event not yet projected, so no exported counter ever goes back.
    """
    time = parsed.counter(layout.STAFF_TIME)
    paused = parsed.counter(layout.STAFF_PAUSED)

    def add(rows: dict[Labels, int], key: Labels, spent: int) -> None:
        if spent > 0:
            rows[key] = rows.get(key, 0) + spent

    for counter in views:
        staff, state = counter.get("staff") or "", counter.get("state")
        if not staff or state not in ("open", "paused"):
            continue
        parsed.staff.add(staff)
        since, held = int(counter.get("since") or 0), int(counter.get("held_since") or 0)
        if since:
            add(time, (staff, "open" if state == "open" else "paused"), clock - since)
        if since and state == "paused":
            add(paused, (staff, counter.get("reason") or "other"), clock - since)
        if held and counter.get("ticket"):
            add(time, (staff, "serving"), clock - held)
    for staff in {key[0] for key in time}:
        open_ms = time.pop((staff, "open"), 0)
        time[(staff, "idle")] = max(0, open_ms - time.get((staff, "serving"), 0))


def counter_views(flat: Sequence[Any]) -> list[dict[str, Any]]:
    """The projection's view of each counter (``k|<id>`` fields of the ``m`` hash)."""
    return [parse_counter_view(_text(flat[i + 1])) for i in range(0, len(flat) - 1, 2)
            if _text(flat[i]).startswith(COUNTER_VIEW)]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def projection_clock(snapshot: dict[str, Any]) -> int:
    """The scrape clock, stopped at the first event the metrics do not include yet."""
    clock = scrape_clock(snapshot)
    pending = snapshot.get("unprojected_at")
    if pending:
        clock = min(clock, int(pending) - int(pending) % 1000)
    return clock


def zero_fill(parsed: CenterMetrics, services: Sequence[str]) -> None:
    """Series whose labels the configuration knows exist from the first scrape, at 0."""
    for prefix in (layout.CALLS, layout.RECALLS, layout.SERVED, layout.NO_SHOWS,
                   layout.TRANSFERS, layout.CANCELLATIONS, layout.EXPIRED):
        rows = parsed.counter(prefix)
        for service in services:
            rows.setdefault((service,), 0)
    ratings = parsed.counter(layout.RATINGS)
    for service in services:
        for level in LEVELS:
            ratings.setdefault((service, level), 0)
        parsed.histogram(layout.WAIT, service, len(layout.WAIT_BUCKETS_S) + 1)
        parsed.histogram(layout.SERVICE_TIME, service, len(layout.SERVICE_BUCKETS_S) + 1)
    for staff in parsed.staff:
        for prefix in (layout.STAFF_SERVED, layout.STAFF_RECALLS, layout.STAFF_NO_SHOWS):
            parsed.counter(prefix).setdefault((staff,), 0)
        for activity in ACTIVITIES:
            parsed.counter(layout.STAFF_TIME).setdefault((staff, activity), 0)
        for level in LEVELS:
            parsed.counter(layout.STAFF_RATINGS).setdefault((staff, level), 0)
        parsed.histogram(layout.STAFF_SERVICE_TIME, staff, len(layout.SERVICE_BUCKETS_S) + 1)


def _add_center(families: dict[str, AnyFamily], cid: str, parsed: CenterMetrics,
                snapshot: dict[str, Any]) -> None:
    for prefix, rows in parsed.counters.items():
        family = families[prefix]
        assert isinstance(family, Family)
        scale = 1000 if family.per_ms else 1
        family.rows.extend(((cid, *labels), value / scale)
                           for labels, value in sorted(rows.items()))
    for prefix, histogram_rows in parsed.histograms.items():
        histogram = families[prefix]
        assert isinstance(histogram, HistogramFamily)
        histogram.rows.extend(((cid, label), row[:-1], row[-1])
                              for label, row in sorted(histogram_rows.items()))
    clock = scrape_clock(snapshot)
    gauge: dict[str, list[tuple[Labels, float]]] = {}
    for name in ("qms_queue_length", "qms_queue_oldest_wait_seconds", "qms_counters",
                 "qms_counter_paused_seconds", "qms_counter_queue_length",
                 "qms_center_wait_target_seconds"):
        family = families[name]
        assert isinstance(family, Family)
        gauge[name] = family.rows
    for service in snapshot["services"]:
        key = (cid, str(service["id"]))
        gauge["qms_queue_length"].append(
            (key, float(service["normal"] + service["priority"] + service["appointment"])))
        oldest = int(service["oldest"] or 0)
        gauge["qms_queue_oldest_wait_seconds"].append(
            (key, max(0, clock - oldest) / 1000 if oldest else 0.0))
    states = dict.fromkeys(COUNTER_STATES, 0)
    for counter in snapshot["counters"]:
        states[counter["state"]] = states.get(counter["state"], 0) + 1
        paused = counter["state"] == "paused" and counter["since"]
        gauge["qms_counter_paused_seconds"].append(
            ((cid, str(counter["id"])), max(0, clock - int(counter["since"])) / 1000
             if paused else 0.0))
        gauge["qms_counter_queue_length"].append(
            ((cid, str(counter["id"])), float(counter.get("queued", 0))))
    gauge["qms_counters"].extend(((cid, state), float(n)) for state, n in states.items())
    gauge["qms_center_wait_target_seconds"].append(((cid,), float(snapshot["target_s"])))
    lag_ms = max(0, id_tuple(str(snapshot["last_id"]))[0]
                 - id_tuple(str(snapshot.get("projected_to") or "0-0"))[0])
    lag = families["qms_projection_lag_seconds"]
    assert isinstance(lag, Family)
    lag.rows.append(((cid,), lag_ms / 1000 if snapshot.get("unprojected_at") else 0.0))


def build_families(province: Province, centers: Sequence[Center],
                   snapshots: Sequence[dict[str, Any]]) -> list[AnyFamily]:
    """Every family of the contract from ``snapshot(metrics=True)`` answers (pure)."""
    families = new_families()
    for center, snapshot in zip(centers, snapshots, strict=True):
        flat = snapshot.get("metrics") or []
        parsed = parse_metrics_hash(flat, families)
        add_staff_time(parsed, counter_views(flat), projection_clock(snapshot))
        zero_fill(parsed, province.service_ids)
        _add_center(families, center.id, parsed, snapshot)
    return list(families.values())


async def read_snapshots(engine: Engine, centers: Sequence[Center] | None = None,
                         projector: Projector | None = None) -> list[dict[str, Any]]:
    """The projection brought up to date, then one ``snapshot(metrics=True)`` per center,
    all started at once so they share pipelines."""
    chosen = engine.province.centers if centers is None else centers
    await (projector or Projector(engine.runner, engine.province)).catch_up(chosen)
    return list(await asyncio.gather(
        *(engine.snapshot(center.id, metrics=True) for center in chosen)))


async def read_families(engine: Engine, centers: Sequence[Center] | None = None,
                        projector: Projector | None = None) -> list[AnyFamily]:
    """Every metric of docs/metrics.md for ``centers`` (default: all), read from Redis."""
    chosen = engine.province.centers if centers is None else centers
    return build_families(engine.province, chosen,
                          await read_snapshots(engine, chosen, projector))


def to_metrics(families: Iterable[AnyFamily]) -> list[Metric]:
    """The same families as prometheus_client metric families."""
    return [family.to_metric() for family in families]


class FamiliesCollector(Collector):
    """Families already read, for a (throwaway) prometheus_client registry."""

    def __init__(self, families: Iterable[AnyFamily]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(to_metrics(self.families))


# ---------------------------------------------------------------------- text format
