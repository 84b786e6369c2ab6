"""Read models built from engine answers: a ticket's state, center summaries for citizens and
the province. Plain dicts, the same for the HTTP API and the WebSocket channels."""

from __future__ import annotations

import asyncio
from dataclasses import fields
from typing import Any

from queue_server.engine import Engine
from queue_server.models import Ticket, TicketState
from queue_server.province import Center, Province

TICKET_DATACLASS_FIELDS = fields(Ticket)


def ticket_state_view(state: TicketState) -> dict[str, Any]:
    """A ticket as its holder follows it (the ticket channel's frame, ``GET /tickets/{id}``):
    the ticket with its center, place, estimated wait and expected call."""
    return {"ticket": {**ticket_fields(state.ticket), "center": state.ticket.center},
            "ahead": state.ahead, "estimated_wait_s": state.estimated_wait_s,
            "active_counters": state.active_counters, "now": state.now,
            "expected_at": state.expected_at, "after_closing": state.after_closing}


def ticket_fields(ticket: Ticket) -> dict[str, Any]:
    """The ticket's fields (the status as its text), without dataclasses.asdict's deep copy."""
    data: dict[str, Any] = {f.name: getattr(ticket, f.name) for f in TICKET_DATACLASS_FIELDS}
    data["status"] = ticket.status.value
    return data


def service_rows(province: Province, snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for row in snapshot["services"]:
        service = province.service(row["id"])
        rows.append({
            "id": service.id, "name": service.name, "name_en": service.name_en,
            "field": service.field, "prefix": service.prefix, "waiting": row["waiting"],
            "active_counters": row["load"]["active"],
            "estimated_wait_s": row["estimated_wait_s"],
        })
    return rows


def summary(province: Province, center: Center, snapshot: dict[str, Any]) -> dict[str, Any]:
    """One center in a line: what the province page and the public list show."""
    counters = snapshot["counters"]
    day = dict(zip(snapshot.get("day", [])[::2], snapshot.get("day", [])[1::2], strict=True))
    called = int(day.get("called", 0))
    served = int(day.get("served", 0))
    no_shows = int(day.get("no_show", 0))
    ratings = int(day.get("rating_n", 0))
    oldest = [s["oldest"] for s in snapshot["services"] if s["oldest"]]
    longest_wait_s = max(0, (snapshot["now"] - min(oldest)) // 1000) if oldest else 0
    return {
        "id": center.id, "name": center.display_name, "type": center.type,
        "open_counters": sum(1 for c in counters if c["state"] == "open"),
        "paused_counters": sum(1 for c in counters if c["state"] == "paused"),
        "counters": len(counters),
        "waiting": snapshot["totals"]["waiting"], "serving": snapshot["totals"]["serving"],
        # Tickets sent to one counter wait in its own queue, not their service's: counted
        # apart so that the services' counts and these add up to "waiting".
        "waiting_for_counters": sum(int(c.get("queued") or 0) for c in counters),
        "counters_waiting": {str(c["id"]): int(c["queued"]) for c in counters
                             if int(c.get("queued") or 0)},
        "called": snapshot["totals"]["called"],
        "longest_wait_s": longest_wait_s, "target_s": snapshot["target_s"],
        "over_target": longest_wait_s > snapshot["target_s"],
        "served_today": served,
        "mean_wait_today_s": round(int(day.get("wait_ms", 0)) / called / 1000) if called else 0,
        "no_show_rate_today": round(no_shows / (served + no_shows), 3) if served + no_shows else 0,
        "satisfaction_today": (
            round(int(day.get("rating_sum", 0)) / ratings, 2) if ratings else None),
        "last_id": snapshot["last_id"],
        "services": service_rows(province, snapshot),
    }


async def all_summaries(engine: Engine, *, day: bool = True) -> list[dict[str, Any]]:
    """Every center at once: the snapshots run concurrently, so they share pipelines."""
    province = engine.province
    snapshots = await asyncio.gather(
        *(engine.snapshot(c.id, day=day) for c in province.centers))
    return [summary(province, c, s) for c, s in zip(province.centers, snapshots, strict=True)]
