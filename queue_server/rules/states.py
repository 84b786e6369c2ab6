"""Ticket and counter states, and which moves between them are legal."""

from __future__ import annotations

from enum import StrEnum


class TicketStatus(StrEnum):
    BOOKED = "booked"
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    NO_SHOW = "no_show"
    TRANSFERRED = "transferred"
    CANCELLED = "cancelled"


class CounterState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    PAUSED = "paused"


class Channel(StrEnum):
    KIOSK = "kiosk"
    ONLINE = "online"
    APPOINTMENT = "appointment"
    TRANSFER = "transfer"


class Action(StrEnum):
    """Every ticket transition, named as the engine names its scripts."""

    CHECK_IN = "check_in"
    CALL = "call"
    RECALL = "recall"
    START = "start"
    COMPLETE = "complete"
    NO_SHOW = "no_show"
    TRANSFER = "transfer"
    CANCEL = "cancel"


T = TicketStatus

# The lifecycle of DESIGN.md: which statuses each action accepts, and where it leads.
TRANSITIONS: dict[Action, tuple[frozenset[TicketStatus], TicketStatus]] = {
    Action.CHECK_IN: (frozenset({T.BOOKED}), T.WAITING),
    Action.CALL: (frozenset({T.WAITING}), T.CALLED),
    Action.RECALL: (frozenset({T.CALLED}), T.CALLED),
    Action.START: (frozenset({T.CALLED}), T.SERVING),
    Action.COMPLETE: (frozenset({T.SERVING}), T.DONE),
    Action.NO_SHOW: (frozenset({T.CALLED}), T.NO_SHOW),
    Action.TRANSFER: (frozenset({T.WAITING, T.CALLED, T.SERVING}), T.TRANSFERRED),
    Action.CANCEL: (frozenset({T.BOOKED, T.WAITING}), T.CANCELLED),
}

TERMINAL = frozenset({T.DONE, T.NO_SHOW, T.TRANSFERRED, T.CANCELLED})


def is_legal(action: Action, status: TicketStatus) -> bool:
    return status in TRANSITIONS[action][0]


def target_status(action: Action) -> TicketStatus:
    return TRANSITIONS[action][1]
