"""What ``sync_center.lua`` writes for a center: its configuration as the scripts read it,
and its calendar's closing instants (docs/rules.md, "The center's day")."""

from __future__ import annotations

import datetime as dt
from typing import Any

from queue_server.province import Center, Province
from queue_server.rules.calendar import CloseInstant
from queue_server.rules.center_model import CALENDAR_DAYS
from queue_server.rules.clock import TIMEZONE


def center_config(province: Province, center: Center,
                  today: dt.date | None = None) -> dict[str, Any]:
    """What sync_center.lua writes into the center's meta, and its closing instants from
    yesterday on (a day left open by a stopped server still closes at its instant)."""
    policy = province.policy
    first = (today or dt.datetime.now(TIMEZONE).date()) - dt.timedelta(days=1)
    closes: list[CloseInstant] = center.calendar.close_instants(first, CALENDAR_DAYS)
    return {
        "name": center.display_name,
        "max_in_row": policy.priority_max_in_row,
        "window_ms": policy.appointment_window_s * 1000,
        "max_recalls": policy.max_recalls,
        "maxlen": policy.stream_max_events,
        "recent_n": policy.recent_calls,
        "idem_ttl": policy.idempotency_s,
        "late_ms": policy.appointment_late_s * 1000,
        "keep_ms": policy.redis_keep_days * 86_400_000,
        "target_s": center.wait_target_s,
        "prios": [p.id for p in province.priorities],
        "reasons": [r.id for r in province.pause_reasons],
        "services": [
            {"id": s.id, "prefix": s.prefix, "typical_s": s.typical_s,
             "slot_ms": s.slot_minutes * 60_000}
            for s in province.services
        ],
        "counters": [
            {"id": c.id, "name": c.name, "services": list(c.services)}
            for c in center.counters
        ],
        "closes": [[c.member, c.at_ms] for c in closes],
    }
