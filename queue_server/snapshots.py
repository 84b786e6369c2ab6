"""The snapshot script's answer, decoded into the shape pages, channels and the collector read.

``snapshot.lua`` answers the live counts and one day's projected totals as stored; this
module names them, adds each service's estimated wait, and decodes the day's totals
(``called``, ``served``, ``wait_ms``, ``svn:<service>`` …, ``st:<staff>:served`` …;
queue_server/projections.py). No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from queue_server.records import TOTAL_FIELDS
from queue_server.rules.eta import estimate_wait_seconds, mean_service_seconds


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def expand_day(flat: Sequence[Any], numbered: Sequence[Any] = ()) -> dict[str, int]:
    """A day's totals by name, from the ``day`` hash and the ``seq`` hash (the numbers given
    out that day per service, which the ``issued`` total is, transfers included)."""
    out = {_text(flat[i]): int(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}
    if numbered:
        out["numbered"] = sum(int(numbered[i + 1]) for i in range(0, len(numbered) - 1, 2))
    return out


def flat_day(totals: dict[str, int]) -> list[str]:
    """The totals as HGETALL's flat list of strings (the snapshot's ``day``)."""
    return [item for name, value in totals.items() for item in (name, str(value))]


def _service(row: dict[str, Any]) -> dict[str, Any]:
    completed, total_ms = int(row.pop("done_n")), int(row.pop("done_ms"))
    typical = row.pop("typical_s")
    active = int(row.pop("active"))
    mean = mean_service_seconds(total_ms, completed, typical)
    waiting = row["normal"] + row["priority"] + row["appointment"]
    row.update(waiting=waiting, mean_service_s=round(mean),
               load={"active": active, "svc_ms": total_ms, "svc_n": completed,
                     "typical_s": typical},
               estimated_wait_s=estimate_wait_seconds(waiting, active, mean))
    return row


def expand_snapshot(raw: dict[str, Any]) -> dict[str, Any]:
    """The decoded answer of snapshot.lua, in place."""
    raw["totals"] = dict(zip(TOTAL_FIELDS, (int(v) for v in raw["totals"]), strict=True))
    for counter in raw["counters"]:
        counter["queued"] = int(counter["queued"])
    for row in raw["services"]:
        _service(row)
    if "day" in raw:
        raw["day"] = flat_day(expand_day(raw["day"], raw.pop("numbered", [])))
    return raw
