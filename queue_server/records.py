"""How the scripts lay out tickets, counters, live counts and events: one place for both sides.

A script's cost is dominated by how many values cross between Lua and Redis and how many it
packs (docs/benchmarks.md), so live state is kept in the forms that cost least to read,
change and publish:

- a **ticket** is the hash ``t:<id>`` with field ``r``, its record (a msgpack array in the
  order of :data:`TICKET_FIELDS`), and ``h``, the hash of the citizen's secret, which never
  leaves Redis;
- a **counter** is the string ``k:<id>``, its record (msgpack array, :data:`COUNTER_FIELDS`);
- an **event** (the stream's field ``d``) is a msgpack array in the order of
  :data:`EVENT_FIELDS` that embeds the ticket and counter records as they were stored, so a
  transition packs each record once for Redis, the stream and its answer alike;
- **live counts** pack several small counts into one integer, so one ``HINCRBY`` both moves
  and returns them all (:class:`Packed`): the center's totals in ``live`` field ``tot``; per
  service, the waiting tickets by queue class and the open counters serving it (``w:<id>``);
  per counter, the tickets transferred to it (``q:<id>``);
- **day totals** that always move together (a count and its milliseconds) share one field:
  ``count + ms × 2^17``.

:func:`lua_constants` renders the layouts into the Lua prelude; the decoders below are what
Python reads them with (the hub, the engine's answers, the snapshot, the reports).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack

TICKET_FIELDS: tuple[str, ...] = (
    "id", "number", "service", "status", "priority", "channel", "counter", "staff",
    "arrived", "issued", "appt", "called", "started", "ended", "recalls", "rating",
    "from", "to", "note", "target_counter",
)
# ``since``: when the counter last changed state (opened, paused, resumed, closed);
# ``held_since``: when the ticket in hand came to it (its call, or the hand-over).
COUNTER_FIELDS: tuple[str, ...] = (
    "id", "state", "staff", "ticket", "reason", "since", "streak", "services", "held_since",
)
EVENT_FIELDS: tuple[str, ...] = (
    "type", "at", "ticket", "counter", "totals", "waiting", "new_ticket",
)


@dataclass(frozen=True)
class Packed:
    """Named non-negative counts packed into one integer: ``sum(count_i × unit_i)``.

    Units are powers of two below 2^53, so Lua's doubles hold the sum exactly; each count
    stays below the next unit (the scripts refuse to go past ``limit``)."""

    units: tuple[tuple[str, int], ...]

    def decode(self, value: int | str | bytes | None) -> dict[str, int]:
        number = int(value or 0)
        out = {}
        for (name, unit), (_, next_unit) in zip(
                self.units, (*self.units[1:], ("", 1 << 53)), strict=True):
            out[name] = number % next_unit // unit
        return out

    def encode(self, **counts: int) -> int:
        return sum(counts.get(name, 0) * unit for name, unit in self.units)

    def limit(self, name: str) -> int:
        """The largest count ``name`` may hold."""
        names = [n for n, _ in self.units]
        index = names.index(name)
        if index + 1 == len(self.units):
            return (1 << 53) // self.units[index][1] - 1
        return self.units[index + 1][1] // self.units[index][1] - 1


TOTALS = Packed((("waiting", 1), ("called", 1 << 18), ("serving", 1 << 36)))
SERVICE_QUEUE = Packed((("N", 1), ("A", 1 << 15), ("P", 1 << 30), ("active", 1 << 45)))
COUNTER_QUEUE = Packed((("N", 1), ("P", 1 << 30)))
DAY_PAIR_UNIT = 1 << 17  # day fields 'count + ms × 2^17'


def day_pair(value: int | str | bytes | None) -> tuple[int, int]:
    """(count, milliseconds) of a day field kept as ``count + ms × 2^17``."""
    number = int(value or 0)
    return number % DAY_PAIR_UNIT, number // DAY_PAIR_UNIT


def waiting_in(counts: Mapping[str, int]) -> int:
    return counts.get("N", 0) + counts.get("A", 0) + counts.get("P", 0)


# ---------------------------------------------------------------------- records to views


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode()
    return "" if value is None else str(value)


def ticket_view(record: Sequence[Any]) -> dict[str, Any]:
    """A ticket record as the map events and pages have always carried."""
    return dict(zip(TICKET_FIELDS, record, strict=True))


def counter_view(record: Sequence[Any]) -> dict[str, Any]:
    """A counter record as events show it (``services`` as comma text, no internals)."""
    view = dict(zip(COUNTER_FIELDS, record, strict=True))
    services = view.pop("services") or []
    view["services"] = ",".join(_text(s) for s in services)
    view.pop("held_since", None)
    view.pop("streak", None)
    return view


def event_view(record: Sequence[Any] | Mapping[str, Any], center: str) -> dict[str, Any]:
    """A stream event as WebSocket clients get it (docs/api.md). An event of the first layout
    (a map, still in a stream written before the records) already is that view."""
    if isinstance(record, Mapping):
        return {"center": center, **record}
    raw = dict(zip(EVENT_FIELDS, record, strict=True))
    view: dict[str, Any] = {"type": raw["type"], "at": raw["at"], "center": center}
    if raw["ticket"] is not None:
        view["ticket"] = ticket_view(raw["ticket"])
    if raw["counter"] is not None:
        view["counter"] = counter_view(raw["counter"])
    if raw["new_ticket"] is not None:
        view["new_ticket"] = ticket_view(raw["new_ticket"])
    if raw["totals"] is not None:
        view["totals"] = TOTALS.decode(raw["totals"])
    pairs = raw["waiting"]
    if pairs:
        view["waiting"] = {pairs[i]: waiting_in(SERVICE_QUEUE.decode(pairs[i + 1]))
                           for i in range(0, len(pairs), 2)}
    return view


def decode_event(raw: bytes | Sequence[Any], center: str) -> dict[str, Any]:
    """A stream event with everything it carries, for the projections and the archive.

    Keys (docs/architecture.md, "Events"): ``type``, ``at`` (ms, the center's Redis clock),
    ``center``; ``ticket``, ``new_ticket`` (ticket maps, :data:`TICKET_FIELDS`) or None;
    ``counter`` (the counter after the transition) and ``before`` (the counter before it, when
    the transition changed it) as maps of :data:`COUNTER_FIELDS` (``services`` a list) or None;
    ``totals`` ({waiting, called, serving} after) or None; ``waiting`` ({service: waiting})
    for the services whose count changed, or {}; ``actor`` (``staff:<username>``,
    ``supervisor:<username>``, ``province:<username>``, ``kiosk:<device>``,
    ``display:<device>``, ``citizen``, ``system``; '' when unknown), ``origin`` (the client's
    address, or ''), ``info`` (a map of what a type needs besides the records, e.g. the closed
    ``day`` of ``day_closed``; {} when none). Unlike :func:`event_view` it keeps the
    secret-bearing ``info`` fields, so it is never sent to a socket."""
    record = msgpack.unpackb(raw, raw=False) if isinstance(raw, bytes) else raw
    if isinstance(record, Mapping):  # the first layout: already a view, without internals
        return {"before": None, "new_ticket": None, "totals": None, "waiting": {},
                "actor": "", "origin": "", "info": {}, **record, "center": center}
    raw_fields = dict(zip(EVENT_FIELDS, record, strict=True))

    def full_counter(value: Any) -> dict[str, Any] | None:
        if value is None:
            return None
        view = dict(zip(COUNTER_FIELDS, value, strict=True))
        view["services"] = [_text(s) for s in view["services"] or []]
        return view

    pairs = raw_fields["waiting"] or []
    return {
        "type": raw_fields["type"], "at": raw_fields["at"], "center": center,
        "ticket": ticket_view(raw_fields["ticket"]) if raw_fields["ticket"] is not None
        else None,
        "counter": full_counter(raw_fields["counter"]),
        "before": full_counter(raw_fields.get("before")),
        "new_ticket": ticket_view(raw_fields["new_ticket"])
        if raw_fields["new_ticket"] is not None else None,
        "totals": TOTALS.decode(raw_fields["totals"]) if raw_fields["totals"] is not None
        else None,
        "waiting": {pairs[i]: waiting_in(SERVICE_QUEUE.decode(pairs[i + 1]))
                    for i in range(0, len(pairs), 2)},
        "actor": raw_fields.get("actor") or "", "origin": raw_fields.get("origin") or "",
        "info": dict(raw_fields.get("info") or {}),
    }


# ---------------------------------------------------------------------- the Lua side


def _lua_fields(name: str, fields: Sequence[str]) -> str:
    pairs = ", ".join(f"[{field!r}] = {i}" for i, field in enumerate(fields, 1))
    return f"local {name} = {{{pairs}}}\n"


def _lua_units(name: str, packed: Packed) -> str:
    pairs = ", ".join(f"{unit_name} = {unit}" for unit_name, unit in packed.units)
    return f"local {name} = {{{pairs}}}\n"


def lua_constants() -> str:
    """Lua tables ``TF``/``CF`` (record positions) and the units of the packed counts."""
    return (_lua_fields("TF", TICKET_FIELDS) + _lua_fields("CF", COUNTER_FIELDS)
            + _lua_units("TOT", TOTALS) + _lua_units("SQ", SERVICE_QUEUE)
            + _lua_units("KQ", COUNTER_QUEUE)
            + f"local CLASS_MAX = {SERVICE_QUEUE.limit('N')}\n"
            + f"local DAY_PAIR = {DAY_PAIR_UNIT}\n")
