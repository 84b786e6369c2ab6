"""Ticket numbers and ticket ids.

A number is the service prefix and a per-center, per-service, per-local-day sequence padded to
three digits (``A001`` … ``A999``, then ``A1000``). A ticket id adds the center and the day, so
it is unique across the province and over days: ``07054-20261122-A023``.
"""

from __future__ import annotations

import re

from queue_server.errors import InvalidInput

TICKET_ID_PATTERN = re.compile(
    r"(?P<center>[0-9A-Za-z_]{1,16})-(?P<day>\d{8})-(?P<number>[A-Z]{1,3}\d{3,5})"
)
PREFIX_PATTERN = re.compile(r"^[A-Z]{1,3}$")


def format_number(prefix: str, sequence: int) -> str:
    if sequence < 1:
        raise InvalidInput(f"sequence must be at least 1, got {sequence}", sequence=sequence)
    return f"{prefix}{sequence:03d}"


def ticket_id(center_id: str, day: str, number: str) -> str:
    return f"{center_id}-{day}-{number}"


def center_of_ticket(ticket_id_text: str) -> str:
    """The center a ticket id belongs to, or InvalidInput naming the expected shape."""
    match = TICKET_ID_PATTERN.fullmatch(ticket_id_text)
    if match is None:
        raise InvalidInput(
            f"ticket id {ticket_id_text!r} is not of the form CENTER-YYYYMMDD-A023",
            ticket=ticket_id_text,
        )
    return match.group("center")
