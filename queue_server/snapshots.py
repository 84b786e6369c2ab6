"""The snapshot script's answer, decoded into the shape pages, channels and the collector read.

``snapshot.lua`` answers the counts as the scripts keep them (packed, records.py) and today's
totals as stored; this module turns them into plain numbers, adds each service's estimated
wait, and names today's totals as they have always been named (``called``, ``served``,
``wait_ms``, ``svc_ms:<service>``, ``st:<staff>:served`` …). No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from queue_server.records import (
    COUNTER_QUEUE,
    SERVICE_QUEUE,
    TOTALS,
    day_pair,
    waiting_in,
)
from queue_server.rules.eta import estimate_wait_seconds, mean_service_seconds

STAFF_PREFIX = "st:"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def expand_day(flat: Sequence[Any], numbered: Sequence[Any] = ()) -> dict[str, int]:
    """Today's totals by their plain names, from the ``day`` hash and the ``seq`` hash (the
    numbers given out today per service: tickets issued, transfers included). A day hash of the
    first layout kept these names itself; they add up the same way."""
    out: dict[str, int] = {"issued": sum(int(numbered[i + 1])
                                         for i in range(0, len(numbered) - 1, 2))}

    def add(name: str, value: int) -> None:
        out[name] = out.get(name, 0) + value

    for i in range(0, len(flat) - 1, 2):
        name, value = _text(flat[i]), flat[i + 1]
        if name == "issued":
            continue  # kept by the first layout; the numbers given out are the truth
        if name == "cw":
            count, ms = day_pair(value)
            add("called", count)
            add("wait_ms", ms)
        elif name.startswith("sv:"):
            count, ms = day_pair(value)
            service = name[3:]
            add(f"svc_n:{service}", count)
            add(f"svc_ms:{service}", ms)
            add("served", count)
        elif name.startswith(STAFF_PREFIX) and name.endswith(":sv"):
            count, ms = day_pair(value)
            staff = name[len(STAFF_PREFIX):-3]
            add(f"{STAFF_PREFIX}{staff}:served", count)
            add(f"{STAFF_PREFIX}{staff}:svc_ms", ms)
        else:
            add(name, int(value))
    return out


def flat_day(totals: dict[str, int]) -> list[str]:
    """The totals as HGETALL's flat list of strings (the snapshot's ``day``)."""
    return [item for name, value in totals.items() for item in (name, str(value))]


def _service(row: dict[str, Any]) -> dict[str, Any]:
    counts = SERVICE_QUEUE.decode(row.pop("counts"))
    completed, total_ms = day_pair(row.pop("done_today"))
    typical = row.pop("typical_s")
    mean = mean_service_seconds(total_ms, completed, typical)
    waiting = waiting_in(counts)
    row.update(normal=counts["N"], priority=counts["P"], appointment=counts["A"],
               waiting=waiting, mean_service_s=round(mean),
               load={"active": counts["active"], "svc_ms": total_ms, "svc_n": completed,
                     "typical_s": typical},
               estimated_wait_s=estimate_wait_seconds(waiting, counts["active"], mean))
    return row


def expand_snapshot(raw: dict[str, Any]) -> dict[str, Any]:
    """The decoded answer of snapshot.lua, in place."""
    raw["totals"] = TOTALS.decode(raw["totals"])
    for counter in raw["counters"]:
        counter["queued"] = waiting_in(COUNTER_QUEUE.decode(counter["queued"]))
    for row in raw["services"]:
        _service(row)
    if "day" in raw:
        raw["day"] = flat_day(expand_day(raw["day"], raw.pop("numbered", [])))
    return raw
