"""Derived figures as projections of a center's event stream (DESIGN.md §7). Pure: events in,
deltas out, no I/O.

A transition's script writes its state and appends its event, nothing more. Everything
derived is computed here from the events (:func:`project`) and applied to Redis by
``project.lua``, which checks and advances the projection's checkpoint in the same atomic
step, so a batch is applied exactly once whichever replica applies it
(:mod:`queue_server.projector` runs it). Two hashes per center receive the deltas:

- ``m`` (:mod:`queue_server.metric_layout`): monotonic counters, histogram buckets and staff
  time for ``/metrics``; plus ``k|<counter>``, the projection's own view of each counter (who
  holds it, in which state since when), from which a scrape adds the span in progress;
- ``day:<YYYYMMDD>``: one local day's totals (the live pages, "my day", the estimated wait's
  mean service time), kept :data:`DAY_KEEP_DAYS` days; reports over longer periods read the
  PostgreSQL archive.

Every event goes to the day of its ``at`` (local time); the day close's events carry the
closing instant, so they count on the day they close.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from queue_server import metric_layout as layout
from queue_server.rules.clock import UTC_OFFSET_S, local_day

DAY_KEEP_DAYS = 40
DAY_MS = 86_400_000
UTC_OFFSET_MS = UTC_OFFSET_S * 1000
STAFF = "st:"
COUNTER_VIEW = "k|"   # m field: the projection's view of a counter
NO_PRIORITY = "none"

# Day-hash field names (the scripts read the first two for the estimated wait).
DAY_SERVED = "svn:"        # svn:<service>: completions
DAY_SERVED_MS = "svms:"    # svms:<service>: their service time, ms


@dataclass
class Deltas:
    """What a batch of events changes: increments per key and field, fields to set, and when
    the day keys it touched expire. Keys are ``m`` or ``day:YYYYMMDD``."""

    incr: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    set: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    expire: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, name: str, by: int = 1) -> None:
        if by:
            fields = self.incr[key]
            fields[name] = fields.get(name, 0) + by

    def as_wire(self) -> dict[str, Any]:
        """The shape project.lua reads (flat field/value lists)."""
        return {
            "incr": {key: [x for name, n in f.items() for x in (name, n)]
                     for key, f in self.incr.items() if f},
            "set": {key: [x for name, v in f.items() for x in (name, v)]
                    for key, f in self.set.items() if f},
            "expire": dict(self.expire),
        }

    def is_empty(self) -> bool:
        return not any(self.incr.values()) and not any(self.set.values())


def wait_start(ticket: Mapping[str, Any]) -> int:
    """When a ticket's wait began: its arrival (a check-in for appointments) or, for a
    transferred ticket, the transfer (its first wait was counted at its first call)."""
    return int(ticket["issued"] if ticket["channel"] == "transfer" else ticket["arrived"])


def bucket(ms: int, bounds: Sequence[int]) -> int:
    """The 1-based bucket of an observation: the first bound (seconds) it does not exceed,
    else the last (+Inf)."""
    for index, bound in enumerate(bounds, 1):
        if ms <= bound * 1000:
            return index
    return len(bounds) + 1


def day_key(at_ms: int) -> str:
    return _day(_day_index(at_ms))[0]


def day_expiry(at_ms: int) -> int:
    """When a day's totals expire: :data:`DAY_KEEP_DAYS` after the day ends."""
    return _day(_day_index(at_ms))[1]


def _day_index(at_ms: int) -> int:
    """Local days since the epoch (UTC+7 all year, as rules/clock.py)."""
    return (at_ms + UTC_OFFSET_MS) // DAY_MS


@lru_cache(maxsize=64)  # a batch's events lie in one or two days: computed once each
def _day(index: int) -> tuple[str, int]:
    start = index * DAY_MS - UTC_OFFSET_MS
    return f"day:{local_day(start)}", start + DAY_MS + DAY_KEEP_DAYS * DAY_MS


def _observe(deltas: Deltas, name: str, label: str, ms: int, bounds: Sequence[int]) -> None:
    base = f"{name}|{label}|"
    deltas.add("m", f"{base}b{bucket(ms, bounds)}")
    deltas.add("m", f"{base}sum", ms)


def _whole_second(ms: int) -> int:
    return ms - ms % 1000


class _Projector:
    """Applies one event at a time to a Deltas (the per-type rules below)."""

    def __init__(self) -> None:
        self.deltas = Deltas()

    def event(self, event: Mapping[str, Any]) -> None:
        kind, at = event["type"], int(event["at"])
        day = day_key(at)
        self.deltas.expire[day] = day_expiry(at)
        rule = getattr(self, f"on_{kind}", None)
        if rule is not None:
            rule(event, at, day)
        self._staff_time(event, at)

    # ------------------------------------------------------------------ tickets

    def _issued(self, ticket: Mapping[str, Any], day: str) -> None:
        priority = ticket["priority"] or NO_PRIORITY
        self.deltas.add("m", f"{layout.ISSUED}|{ticket['service']}|{ticket['channel']}|{priority}")
        self.deltas.add(day, "issued")

    def on_issued(self, event: Mapping[str, Any], at: int, day: str) -> None:
        self._issued(event["ticket"], day)

    def on_called(self, event: Mapping[str, Any], at: int, day: str) -> None:
        ticket = event["ticket"]
        waited = int(ticket["called"]) - wait_start(ticket)
        self.deltas.add("m", f"{layout.CALLS}|{ticket['service']}")
        _observe(self.deltas, layout.WAIT, ticket["service"], waited, layout.WAIT_BUCKETS_S)
        self.deltas.add(day, "called")
        self.deltas.add(day, "wait_ms", waited)

    def on_recalled(self, event: Mapping[str, Any], at: int, day: str) -> None:
        self.deltas.add("m", f"{layout.RECALLS}|{event['ticket']['service']}")
        staff = (event.get("counter") or {}).get("staff") or ""
        if staff:
            self.deltas.add("m", f"{layout.STAFF_RECALLS}|{staff}")

    def on_completed(self, event: Mapping[str, Any], at: int, day: str) -> None:
        ticket = event["ticket"]
        service, staff = ticket["service"], ticket["staff"]
        served = int(ticket["ended"]) - int(ticket["started"])
        self.deltas.add("m", f"{layout.SERVED}|{service}")
        _observe(self.deltas, layout.SERVICE_TIME, service, served, layout.SERVICE_BUCKETS_S)
        self.deltas.add(day, "served")
        self.deltas.add(day, DAY_SERVED + service)
        self.deltas.add(day, DAY_SERVED_MS + service, served)
        if staff:
            # Per staff: who called the ticket (its time in hand went to whoever held it).
            self.deltas.add("m", f"{layout.STAFF_SERVED}|{staff}")
            _observe(self.deltas, layout.STAFF_SERVICE_TIME, staff, served,
                     layout.SERVICE_BUCKETS_S)
            self.deltas.add(day, f"{STAFF}{staff}:served")
            self.deltas.add(day, f"{STAFF}{staff}:svc_ms", served)
            self.deltas.add(day, f"{STAFF}{staff}:wait_ms",
                            int(ticket["called"]) - wait_start(ticket))

    def on_no_show(self, event: Mapping[str, Any], at: int, day: str) -> None:
        ticket = event["ticket"]
        self.deltas.add("m", f"{layout.NO_SHOWS}|{ticket['service']}")
        self.deltas.add(day, "no_show")
        staff = (event.get("before") or {}).get("staff") or ""
        if staff:
            self.deltas.add("m", f"{layout.STAFF_NO_SHOWS}|{staff}")
            self.deltas.add(day, f"{STAFF}{staff}:noshow")

    def on_transferred(self, event: Mapping[str, Any], at: int, day: str) -> None:
        self.deltas.add("m", f"{layout.TRANSFERS}|{event['ticket']['service']}")
        self.deltas.add(day, "transferred")
        if event.get("new_ticket") is not None:
            self._issued(event["new_ticket"], day)

    def on_cancelled(self, event: Mapping[str, Any], at: int, day: str) -> None:
        self.deltas.add("m", f"{layout.CANCELLATIONS}|{event['ticket']['service']}")
        self.deltas.add(day, "cancelled")

    def on_expired(self, event: Mapping[str, Any], at: int, day: str) -> None:
        self.deltas.add("m", f"{layout.EXPIRED}|{event['ticket']['service']}")
        self.deltas.add(day, "expired")

    def on_rated(self, event: Mapping[str, Any], at: int, day: str) -> None:
        ticket = event["ticket"]
        level, staff = int(ticket["rating"]), ticket["staff"]
        self.deltas.add("m", f"{layout.RATINGS}|{ticket['service']}|{level}")
        self.deltas.add(day, "rating_sum", level)
        self.deltas.add(day, "rating_n")
        if staff:
            self.deltas.add("m", f"{layout.STAFF_RATINGS}|{staff}|{level}")
            self.deltas.add(day, f"{STAFF}{staff}:rating_sum", level)
            self.deltas.add(day, f"{STAFF}{staff}:rating_n")

    # ------------------------------------------------------------------ staff time

    def _staff_time(self, event: Mapping[str, Any], at: int) -> None:
        """Book what the counter's previous state cost its holder, from ``before``.

        A counter's state span (open or paused) ends when its state or holder changes; its
        time with a ticket in hand (serving) ends when the ticket leaves it or the holder
        changes. Spans are whole seconds, as the scripts keep ``since``/``held_since``."""
        before, after = event.get("before"), event.get("counter")
        if after is not None:
            self.deltas.set["m"][COUNTER_VIEW + str(after["id"])] = counter_view_text(after)
        if before is None or after is None or not before["staff"]:
            return
        staff, end = before["staff"], _whole_second(at)
        state_ends = before["state"] != after["state"] or before["staff"] != after["staff"]
        if state_ends and before["state"] in ("open", "paused") and before["since"]:
            spent = end - int(before["since"])
            self.deltas.add("m", f"{layout.STAFF_TIME}|{staff}|{before['state']}", spent)
            if before["state"] == "paused":
                reason = before["reason"] or "other"
                self.deltas.add("m", f"{layout.STAFF_PAUSED}|{staff}|{reason}", spent)
                self.deltas.add(day_key(at), f"{STAFF}{staff}:paused_ms", spent)
        held_ends = bool(before["ticket"]) and (
            before["ticket"] != after["ticket"] or before["staff"] != after["staff"])
        if held_ends and before["held_since"]:
            self.deltas.add("m", f"{layout.STAFF_TIME}|{staff}|serving",
                            end - int(before["held_since"]))


def counter_view_text(counter: Mapping[str, Any]) -> str:
    """The projection's view of a counter: what a scrape needs for the span in progress."""
    return "|".join(str(counter[name]) for name in COUNTER_VIEW_FIELDS)


COUNTER_VIEW_FIELDS = ("staff", "state", "since", "reason", "ticket", "held_since")


def parse_counter_view(text: str) -> dict[str, Any]:
    """:func:`counter_view_text` read back (staff names and reasons hold no '|')."""
    parts = text.split("|")
    view = dict(zip(COUNTER_VIEW_FIELDS, parts, strict=True))
    return {**view, "since": int(view["since"]), "held_since": int(view["held_since"])}


def project(events: Iterable[Mapping[str, Any]]) -> Deltas:
    """The deltas of a batch of decoded events (records.decode_event), in stream order."""
    projector = _Projector()
    for event in events:
        projector.event(event)
    return projector.deltas


def lua_constants() -> str:
    return f"local DAY_SERVED, DAY_SERVED_MS = {DAY_SERVED!r}, {DAY_SERVED_MS!r}\n"
