"""Which waiting ticket a counter calls next.

The policy, in order (docs/rules.md explains why):

1. **Statutory priority** tickets first, but never more than ``priority_max_in_row`` priority
   calls in a row at one counter while a normal citizen could be called instead, so normal
   citizens are never starved.
2. **Appointments due**: a checked-in appointment whose time is at most
   ``appointment_window_ms`` away (or past), earliest appointment first.
3. **Oldest arrival** among the other waiting tickets (a transferred ticket keeps its original
   arrival, so it keeps its place).
4. An appointment that is not yet due, only when nobody else is waiting.

Candidates come from queues in a fixed *source order*: the counter's own queues (tickets
transferred to this counter) first, then for each service the counter serves, in the counter's
order, its priority, appointment and normal queues. Equal times go to the earlier source: the
per-counter service order is the tie-break.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class QueueClass(StrEnum):
    PRIORITY = "P"
    APPOINTMENT = "A"
    NORMAL = "N"


@dataclass(frozen=True)
class Source:
    """One waiting queue a counter draws from; ``suffix`` is its key within the center."""

    queue_class: QueueClass
    suffix: str


@dataclass(frozen=True)
class Head:
    """The first ticket of a queue: Redis orders a sorted set by (score, member)."""

    score: int
    ticket_id: str


@dataclass(frozen=True)
class RoutingPolicy:
    priority_max_in_row: int
    appointment_window_ms: int


@dataclass(frozen=True)
class Pick:
    source_index: int
    queue_class: QueueClass
    ticket_id: str
    new_streak: int


def counter_queue_suffix(counter_id: str, priority: bool) -> str:
    return f"qkp:{counter_id}" if priority else f"qk:{counter_id}"


def service_queue_suffix(service_id: str, queue_class: QueueClass) -> str:
    return {"P": "qp:", "A": "qa:", "N": "q:"}[queue_class.value] + service_id


def source_order(counter_id: str, services: Sequence[str]) -> list[Source]:
    sources = [
        Source(QueueClass.PRIORITY, counter_queue_suffix(counter_id, True)),
        Source(QueueClass.NORMAL, counter_queue_suffix(counter_id, False)),
    ]
    for service in services:
        for queue_class in (QueueClass.PRIORITY, QueueClass.APPOINTMENT, QueueClass.NORMAL):
            sources.append(Source(queue_class, service_queue_suffix(service, queue_class)))
    return sources


def _best(
    sources: Sequence[Source], heads: Sequence[Head | None], queue_class: QueueClass
) -> tuple[int, Head] | None:
    best: tuple[int, Head] | None = None
    for index, (source, head) in enumerate(zip(sources, heads, strict=True)):
        if head is None or source.queue_class is not queue_class:
            continue
        # Strictly earlier only: an equal time keeps the earlier source (the tie-break).
        if best is None or head.score < best[1].score:
            best = (index, head)
    return best


def pick_next(
    sources: Sequence[Source],
    heads: Sequence[Head | None],
    streak: int,
    policy: RoutingPolicy,
    now_ms: int,
) -> Pick | None:
    """The ticket to call, given the head of each source queue and the counter's streak."""
    priority = _best(sources, heads, QueueClass.PRIORITY)
    appointment = _best(sources, heads, QueueClass.APPOINTMENT)
    normal = _best(sources, heads, QueueClass.NORMAL)
    due = appointment if (
        appointment is not None
        and appointment[1].score <= now_ms + policy.appointment_window_ms
    ) else None
    others_waiting = normal is not None or due is not None

    chosen: tuple[int, Head] | None
    if priority is not None and (streak < policy.priority_max_in_row or not others_waiting):
        index, head = priority
        return Pick(index, QueueClass.PRIORITY, head.ticket_id, streak + 1)
    chosen = due or normal or appointment
    if chosen is None:
        return None
    index, head = chosen
    return Pick(index, sources[index].queue_class, head.ticket_id, 0)
