"""The engine's refusals: each reason the Lua scripts fail with, its error class, and its
English sentence (the message catalogue carries the Vietnamese one). ``fail(code, reason,
fields)`` in lua/includes/base.lua sends ``QMS <code> <reason> <fields as JSON>``;
:func:`from_reply` turns that into the exception a caller catches.
"""

from __future__ import annotations

import json
from typing import Any

from queue_server.errors import ERRORS_BY_CODE, QmsError

ENGLISH: dict[str, str] = {
    "center_unknown": "unknown center {center}",
    "service_unknown": "unknown service {service} at center {center}",
    "ticket_unknown": "unknown ticket {ticket}",
    "counter_unknown": "unknown counter {counter} at center {center}",
    "channel_invalid": "channel must be one of {allowed}, got {channel}",
    "priority_invalid": "priority category must be one of {allowed}, got {priority}",
    "pause_reason_invalid": "pause reason must be one of {allowed}, got {pause_reason}",
    "rating_invalid": "rating must be a whole number from 1 to 5, got {rating}",
    "services_empty": "counter {counter} must serve at least one service",
    "service_repeated": "service {service} is listed twice",
    "staff_required": "counter {counter} is opened by a named staff member",
    "transfer_changes_nothing": "a transfer of {number} needs another service or a target counter",
    "slot_invalid": "the appointment slot {slot} is not valid",
    "slot_past": "the appointment time has passed",
    "slot_full": "the {service} slot at {slot} is fully booked",
    "booking_overlap": "this citizen already holds booking {number} at an overlapping time",
    "ticket_status": "cannot {action} ticket {number}: it is {status}, expected {allowed}",
    "nothing_in_hand": "cannot {action}: counter {counter} has no ticket in hand",
    "already_rated": "ticket {number} was already rated",
    "check_in_other_day": "ticket {number} is booked for {day}, not for today ({today})",
    "counter_held_by_other": "counter {counter} is held by {holder}, not by {staff}",
    "counter_not_open": "counter {counter} is {state}, not open",
    "counter_busy": "counter {counter} still has ticket {ticket} in hand: start and complete "
                    "it, mark it no-show or transfer it first",
    "counter_taken": "counter {counter} is taken by {holder}: a supervisor must hand it over",
    "counter_already_closed": "counter {counter} is already closed",
    "counter_not_paused": "counter {counter} is {state}, not paused",
    "counter_does_not_serve": "counter {counter} does not serve ticket {number} "
                              "(service {service})",
    "ticket_not_in_hand": "ticket {number} is not in hand at counter {counter}",
    "target_counter_not_open": "counter {counter} is {state}: a ticket can be sent only to an "
                               "open counter, unless a supervisor chooses it",
    "ticket_token_mismatch": "the ticket token does not match ticket {number}",
    "idempotency_key_reused": "idempotency key {key} was used for a different request",
}


def english(reason: str, fields: dict[str, Any]) -> str:
    template = ENGLISH.get(reason)
    if template is None:
        return f"{reason} {fields}"
    try:
        return template.format(**fields)
    except (KeyError, IndexError):
        return f"{template} {fields}"


def from_reply(text: str) -> QmsError | None:
    """``QMS <code> <reason> <json>`` (Redis may append where it was raised) as the error;
    None when the text is not a refusal of this form."""
    if not text.startswith("QMS "):
        return None
    parts = text.split(" ", 3)
    if len(parts) < 4 or not parts[3].startswith("{"):
        return None
    _, code, reason, rest = parts
    try:
        fields, _ = json.JSONDecoder().raw_decode(rest)
    except ValueError:
        return None
    if not isinstance(fields, dict):
        fields = {}
    # cjson writes an empty Lua table as {}; 'reason' is the error's own attribute.
    fields = {("detail_" + k if k == "reason" else k): ("" if v == {} else v)
              for k, v in fields.items()}
    cls = ERRORS_BY_CODE.get(code, QmsError)
    return cls(english(reason, fields), reason=reason, **fields)
