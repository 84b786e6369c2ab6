"""How tickets, counters and events are laid out in Redis: one definition for Python and Lua.

- a **ticket** is the hash ``t:<id>``: field ``r`` is its record (a msgpack array in the order
  of :data:`TICKET_FIELDS`), ``h`` the hash of the citizen's secret and ``c`` the salted hash
  of the citizen's id (both never leave Redis but for the archive);
- a **counter** is the string ``k:<id>``, its record (:data:`COUNTER_FIELDS`);
- an **event** (the stream's field ``d``) is a msgpack array in the order of
  :data:`EVENT_FIELDS`; it embeds the ticket and counter records as stored, so a transition
  packs each record once for Redis, the stream and its answer alike.

Arrays, not maps, because a transition's cost is mostly what crosses between Lua and Redis
and what it packs (docs/benchmarks.md). The scripts still read and build records by field
name: :func:`lua_constants` renders the positions (``TF.status``) and a constructor for each
record from the defaults below, so no script writes a record positionally.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgpack

# (name, default) in record order. Times are epoch milliseconds (0: not yet).
TICKET_LAYOUT: tuple[tuple[str, Any], ...] = (
    ("id", ""), ("number", ""), ("service", ""), ("status", ""), ("priority", ""),
    ("channel", ""), ("counter", ""), ("staff", ""), ("arrived", 0), ("issued", 0),
    ("appt", 0), ("called", 0), ("started", 0), ("ended", 0), ("recalls", 0), ("rating", 0),
    ("from", ""), ("to", ""), ("note", ""), ("target_counter", ""),
    # The queue class it waits in while waiting (routing.QueueClass, or 'K'/'KP' for a
    # counter's own queues): written when it is queued, so taking it out never depends on a
    # setting that may have changed since (e.g. the late check-in limit).
    ("queue", ""),
)
# ``since``: when the counter last changed state (opened, paused, resumed, closed);
# ``held_since``: when the ticket in hand came to it (its call, or the hand-over).
COUNTER_LAYOUT: tuple[tuple[str, Any], ...] = (
    ("id", ""), ("state", "closed"), ("staff", ""), ("ticket", ""), ("reason", ""),
    ("since", 0), ("streak", 0), ("services", []), ("held_since", 0),
)
TICKET_FIELDS: tuple[str, ...] = tuple(name for name, _ in TICKET_LAYOUT)
COUNTER_FIELDS: tuple[str, ...] = tuple(name for name, _ in COUNTER_LAYOUT)
# ``before``: the counter as it was, when the transition changed it (what staff time and the
# audit trail need); ``totals``: [waiting, called, serving] after, when they changed;
# ``waiting``: [service, waiting, …] for the services whose count changed; ``actor``: who
# (``staff:<username>``, ``kiosk:<device>``, ``citizen``, ``system`` …); ``origin``: from
# where (the client's address); ``info``: what a type needs besides the records.
EVENT_FIELDS: tuple[str, ...] = (
    "type", "at", "ticket", "counter", "before", "new_ticket", "totals", "waiting", "actor",
    "origin", "info",
)
TOTAL_FIELDS: tuple[str, ...] = ("waiting", "called", "serving")
# Event info fields that carry secrets: kept for the archive, never sent to a socket.
SECRET_INFO = frozenset({"citizen", "token"})


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode()
    return "" if value is None else str(value)


def ticket_view(record: Sequence[Any]) -> dict[str, Any]:
    """A ticket record as a map of :data:`TICKET_FIELDS`."""
    return dict(zip(TICKET_FIELDS, record, strict=True))


def counter_map(record: Sequence[Any]) -> dict[str, Any]:
    """A counter record as a map of :data:`COUNTER_FIELDS` (``services`` a list)."""
    view = dict(zip(COUNTER_FIELDS, record, strict=True))
    services = view["services"] or []
    # msgpack gives text as str: convert only what is not (a copy either way).
    view["services"] = [_text(s) for s in services] if any(
        type(s) is not str for s in services) else list(services)
    return view


def counter_view(record: Sequence[Any]) -> dict[str, Any]:
    """A counter record as events show it to pages (``services`` as comma text, no internals)."""
    view = counter_map(record)
    view["services"] = ",".join(view["services"])
    view.pop("held_since", None)
    view.pop("streak", None)
    return view


def _waiting(pairs: Sequence[Any] | None) -> dict[str, int]:
    pairs = pairs or []
    return {_text(pairs[i]): int(pairs[i + 1]) for i in range(0, len(pairs), 2)}


def _totals(values: Sequence[Any] | None) -> dict[str, int] | None:
    if values is None:
        return None
    return dict(zip(TOTAL_FIELDS, values, strict=True))  # whole numbers as msgpack gives


def unpack_event(raw: bytes | Sequence[Any]) -> dict[str, Any]:
    record = msgpack.unpackb(raw, raw=False) if isinstance(raw, bytes) else raw
    return dict(zip(EVENT_FIELDS, record, strict=True))


def event_view(raw: bytes | Sequence[Any], center: str) -> dict[str, Any]:
    """A stream event as WebSocket clients get it (docs/api.md): records as maps, the
    counter without internals, no secrets."""
    fields = unpack_event(raw)
    view: dict[str, Any] = {"type": fields["type"], "at": fields["at"], "center": center}
    if fields["ticket"] is not None:
        view["ticket"] = ticket_view(fields["ticket"])
    if fields["counter"] is not None:
        view["counter"] = counter_view(fields["counter"])
    if fields["new_ticket"] is not None:
        view["new_ticket"] = ticket_view(fields["new_ticket"])
    if fields["totals"] is not None:
        view["totals"] = _totals(fields["totals"])
    if fields["waiting"]:
        view["waiting"] = _waiting(fields["waiting"])
    info = {k: v for k, v in (fields["info"] or {}).items() if k not in SECRET_INFO}
    if info:
        view["info"] = info
    return view


def decode_event(raw: bytes | Sequence[Any], center: str) -> dict[str, Any]:
    """A stream event with everything it carries, for the projections and the archive.

    Keys: ``type``, ``at`` (ms, the center's Redis clock), ``center``; ``ticket``,
    ``new_ticket`` (maps of :data:`TICKET_FIELDS`) or None; ``counter`` (after the
    transition) and ``before`` (before it, when it changed) as maps of
    :data:`COUNTER_FIELDS` or None; ``totals`` ({waiting, called, serving} after) or None;
    ``waiting`` ({service: waiting}, the services whose count changed); ``actor``,
    ``origin`` ('' when unknown); ``info`` ({} when none). Unlike :func:`event_view` it keeps
    the secret-bearing ``info`` fields (``citizen``, ``token``): never send it to a socket."""
    fields = unpack_event(raw)

    def ticket(value: Any) -> dict[str, Any] | None:
        return ticket_view(value) if value is not None else None

    def counter(value: Any) -> dict[str, Any] | None:
        return counter_map(value) if value is not None else None

    return {
        "type": fields["type"], "at": fields["at"], "center": center,
        "ticket": ticket(fields["ticket"]), "new_ticket": ticket(fields["new_ticket"]),
        "counter": counter(fields["counter"]), "before": counter(fields["before"]),
        "totals": _totals(fields["totals"]), "waiting": _waiting(fields["waiting"]),
        "actor": _text(fields["actor"]), "origin": _text(fields["origin"]),
        "info": dict(fields["info"] or {}),
    }


# ---------------------------------------------------------------------- the Lua side


def _lua_value(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list):
        return "{}"
    return str(value)


def _lua_positions(name: str, fields: Sequence[str]) -> str:
    pairs = ", ".join(f"[{field!r}] = {i}" for i, field in enumerate(fields, 1))
    return f"local {name} = {{{pairs}}}\n"


def _lua_constructor(name: str, layout: Sequence[tuple[str, Any]]) -> str:
    """``local function name() return {defaults…} end``: a fresh record, every field at its
    default, for the script to fill by name (``t[TF.id] = …``)."""
    values = ", ".join(_lua_value(default) for _, default in layout)
    return f"local function {name}() return {{{values}}} end\n"


def lua_constants() -> str:
    """Record positions ``TF``/``CF``, the constructors ``blank_ticket``/``blank_counter``,
    and the msgpack head of an event array."""
    head = 0x90 + len(EVENT_FIELDS)
    return (_lua_positions("TF", TICKET_FIELDS) + _lua_positions("CF", COUNTER_FIELDS)
            + _lua_constructor("blank_ticket", TICKET_LAYOUT)
            + _lua_constructor("blank_counter", COUNTER_LAYOUT)
            + f"local EVENT_HEAD = '\\{head}'\n")


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
