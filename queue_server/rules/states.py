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
    EXPIRED = "expired"  # still waiting, called or served when the center's day closed


class CounterState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    PAUSED = "paused"


class Channel(StrEnum):
    KIOSK = "kiosk"
    ONLINE = "online"
    APPOINTMENT = "appointment"
    TRANSFER = "transfer"


# Channels a ticket is issued through (a transfer makes its own tickets).
ISSUE_CHANNELS = (Channel.KIOSK, Channel.ONLINE, Channel.APPOINTMENT)


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
    EXPIRE = "expire"  # the day closes with the ticket still in the queue or at a counter


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
    Action.EXPIRE: (frozenset({T.WAITING, T.CALLED, T.SERVING}), T.EXPIRED),
}
# A booking whose day passes without a check-in becomes a no-show (DESIGN.md, lifecycle).
BOOKING_LAPSES_TO = T.NO_SHOW

TERMINAL = frozenset({T.DONE, T.NO_SHOW, T.TRANSFERRED, T.CANCELLED, T.EXPIRED})
# Where each action's script refers to the table (the Lua name of an action).
LUA_ACTIONS = {a: a.value for a in Action}


def is_legal(action: Action, status: TicketStatus) -> bool:
    return status in TRANSITIONS[action][0]


def target_status(action: Action) -> TicketStatus:
    return TRANSITIONS[action][1]


def allowed_text(action: Action) -> str:
    """The statuses an action accepts, as refusals name them ("booked,waiting")."""
    return ",".join(sorted(s.value for s in TRANSITIONS[action][0]))


def lua_constants() -> str:
    """The lifecycle for the scripts: ``ALLOWED[action][status]``, ``TO[action]``,
    ``ALLOWED_TEXT[action]`` and the channels a ticket may be issued through."""
    allowed = ", ".join(
        f"{a.value} = {{" + ", ".join(f"{s.value} = true" for s in sorted(froms)) + "}"
        for a, (froms, _) in TRANSITIONS.items())
    to = ", ".join(f"{a.value} = {target.value!r}" for a, (_, target) in TRANSITIONS.items())
    text = ", ".join(f"{a.value} = {allowed_text(a)!r}" for a in TRANSITIONS)
    channels = ", ".join(f"{c.value} = true" for c in ISSUE_CHANNELS)
    return (f"local ALLOWED = {{{allowed}}}\nlocal TO = {{{to}}}\n"
            f"local ALLOWED_TEXT = {{{text}}}\nlocal ISSUE_CHANNELS = {{{channels}}}\n"
            f"local LAPSED = {BOOKING_LAPSES_TO.value!r}\n")
