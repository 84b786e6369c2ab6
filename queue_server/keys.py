"""Every Redis key of the system, in one place.

All keys of one center share the hash tag ``{c:<center_id>}``, so a script that touches one
center lands on one Redis Cluster slot. Scripts receive the center's ``meta`` key as KEYS[1]
(which routes them to the right node) and build the center's other keys from the same layout:
``lua_key_functions()`` renders this module's table into the Lua prelude, so the layout is
written once.
"""

from __future__ import annotations

ROOT = "qms"

# Suffix templates within a center: name -> (suffix, argument name or None).
CENTER_KEYS: dict[str, tuple[str, str | None]] = {
    "meta": ("meta", None),            # hash: the center's configuration as scripts need it,
                                       # its open day and when that day closes ('clock': a
                                       # test-only offset added to TIME)
    "seq": ("seq:", "day"),            # hash: service -> last number of that local day
    "ticket": ("t:", "ticket_id"),     # hash: one ticket (records.py)
    "queue": ("q:", "service"),        # zset: normal waiting tickets by arrival ms
    "queue_priority": ("qp:", "service"),      # zset: statutory priority tickets by arrival ms
    "queue_appointment": ("qa:", "service"),   # zset: checked-in appointments by slot ms
    "counter_queue": ("qk:", "counter"),       # zset: tickets transferred to a counter
    "counter_queue_priority": ("qkp:", "counter"),
    "booked": ("booked", None),        # zset: appointments not yet checked in, by slot ms
    "slots": ("slots:", "day"),        # hash: '<service>|<slot ms>' -> bookings in that slot
    "citizen": ("cz:", "citizen"),     # zset: a citizen's bookings here, '<ticket>|<end ms>'
                                       # by slot start (no overlapping bookings)
    "counter": ("k:", "counter"),      # string: one counter's record (records.py)
    "events": ("events", None),        # stream: every transition, msgpack in field 'd'
    "closes": ("closes", None),        # zset: the instants the center's live day ends
    "live": ("live", None),            # hash: waiting/called/serving; per service class
                                       # N:/A:/P:<service> and open counters a:<service>;
                                       # per counter K:/KP:<counter> (its own queues)
    "idempotency": ("idem:", "key"),   # string: fingerprint + packed first result
    # Projections of the event stream (DESIGN.md §7), written only by project.lua:
    "projection": ("proj", None),      # hash: checkpoint (last stream id applied) …
    "metrics": ("m", None),            # hash: monotonic counters and histogram buckets
    "day": ("day:", "day"),            # hash: one local day's totals per center/service/staff
}


def center_prefix(center_id: str) -> str:
    return f"{ROOT}:{{c:{center_id}}}:"


def center_key(center_id: str, name: str, argument: str = "") -> str:
    suffix, wants = CENTER_KEYS[name]
    return center_prefix(center_id) + suffix + (argument if wants else "")


def center_meta_key(center_id: str) -> str:
    return center_key(center_id, "meta")


def center_stream_key(center_id: str) -> str:
    return center_key(center_id, "events")


def ticket_key(center_id: str, ticket_id: str) -> str:
    return center_key(center_id, "ticket", ticket_id)


def counter_key(center_id: str, counter_id: str) -> str:
    return center_key(center_id, "counter", counter_id)


# Keys outside any center: accounts, tokens and rate limits (single-key operations only).
def staff_key(username: str) -> str:
    return f"{ROOT}:staff:{username}"


def device_key(token_id: str) -> str:
    return f"{ROOT}:device:{token_id}"


def rate_limit_key(scope: str, subject: str, window: int) -> str:
    return f"{ROOT}:rl:{scope}:{subject}:{window}"


def lua_key_functions() -> str:
    """Lua definitions ``K.<name>(arg)`` for every center key, relative to the prefix ``P``."""
    lines = ["local K = {}"]
    for name, (suffix, argument) in CENTER_KEYS.items():
        if argument:
            lines.append(f"K.{name} = function(a) return P .. '{suffix}' .. a end")
        else:
            lines.append(f"K.{name} = function() return P .. '{suffix}' end")
    return "\n".join(lines) + "\n"
