"""The engine's refusals: ``fail(code, reason, fields)`` in lua/includes/base.lua sends
``QMS <code> <reason> <fields as JSON>``; :func:`from_reply` turns that into the exception a
caller catches, its sentences those of the message catalogue (queue_server/messages.py).
"""

from __future__ import annotations

import json
from typing import Any

from queue_server.errors import ERRORS_BY_CODE, QmsError

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
    ticket = fields.get("ticket")
    if isinstance(ticket, str) and "number" not in fields:
        fields["number"] = ticket.rsplit("-", 1)[-1]  # what a person recognises
    cls = ERRORS_BY_CODE.get(code, QmsError)
    return cls(reason=reason, **fields)
