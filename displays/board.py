"""The lobby board as data, without I/O: a snapshot, then events. The same rules as the page's
``static/js/board.js``; the terminal client (``displays.client``) draws it.

``Board.apply_frame(frame)`` takes a decoded WebSocket frame and returns the ``Call`` to
announce, if the frame was a call or a recall. Frames it does not know are ignored; a frame
that is not a map with a ``type`` raises ``ValueError`` (the client logs it once and skips).

The banner (``Board.banner()``) tells the truth now: the newest call whose counter still holds
that ticket and is open. A transfer, a no-show, a completion, a pause, a close or an
``expired`` ticket takes the invitation down at once; the history keeps the call. The day's
close (``day_closed``) closes every counter, empties the queues and clears the history: the
board starts the next day clean. Events are handled by their ``type``; a type the board does
not know changes only what its ticket and counter records say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from queue_server import messages

RECENT = 12
CALL_EVENTS = ("called", "recalled")


@dataclass(frozen=True)
class Call:
    number: str
    counter: str
    service: str
    priority: str
    at: int
    recall: bool
    ticket_id: str = ""


@dataclass
class CounterRow:
    id: str
    name: str
    state: str = "closed"
    reason: str = ""
    services: list[str] = field(default_factory=list)
    number: str = ""          # the ticket in hand, "" if none
    ticket_id: str = ""
    priority: str = ""
    service: str = ""
    queued: int = 0           # tickets waiting for this counter in particular


@dataclass
class ServiceRow:
    id: str
    waiting: int = 0
    mean_s: float = 0.0
    active: int = 0
    eta_s: int | None = None


def _services(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [s for s in str(value or "").split(",") if s]


@dataclass
class Board:
    name: str = ""
    counters: dict[str, CounterRow] = field(default_factory=dict)
    services: dict[str, ServiceRow] = field(default_factory=dict)
    recent: list[Call] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    last_id: str | None = None
    now_ms: int = 0
    day_closed: bool = False
    closed_day: str = ""      # the day the engine closed (YYYYMMDD), while day_closed

    def apply_frame(self, frame: object) -> Call | None:
        if not isinstance(frame, Mapping) or not isinstance(frame.get("type"), str):
            raise ValueError(f"not a frame: {frame!r:.80}")
        kind = frame["type"]
        call = None
        if kind == "snapshot":
            self.apply_snapshot(frame["snapshot"])
        elif kind == "event":
            call = self.apply_event(frame["event"])
        elif kind == "heartbeat":
            self.now_ms = int(frame.get("at") or self.now_ms)
        stream_id = frame.get("id")
        if isinstance(stream_id, str) and stream_id != "0-0" and kind != "ticket":
            self.last_id = stream_id
        return call

    def apply_snapshot(self, snap: Mapping[str, Any]) -> None:
        self.name = str(snap.get("name") or self.name)
        self.now_ms = int(snap.get("now") or self.now_ms)
        self.counters = {}
        # A snapshot names the ticket in hand by id; its number is among the recent calls.
        recent = {str(r.get("id")): r for r in snap.get("recent", []) if r and r.get("id")}
        for row in snap.get("counters", []):
            counter = CounterRow(id=str(row["id"]), name=str(row.get("name") or row["id"]),
                                 state=str(row.get("state") or "closed"),
                                 reason=str(row.get("reason") or ""),
                                 services=_services(row.get("services")),
                                 queued=int(row.get("queued") or 0))
            current = row.get("current") or recent.get(str(row.get("ticket") or "")) or {}
            if current.get("number"):
                counter.number, counter.ticket_id = current["number"], current.get("id", "")
                counter.priority = current.get("priority") or ""
                counter.service = current.get("service") or ""
            self.counters[counter.id] = counter
        self.services = {}
        for row in snap.get("services", []):
            mean = row.get("mean_service_s") or (row.get("load") or {}).get("typical_s") or 0
            self.services[row["id"]] = ServiceRow(row["id"], int(row.get("waiting") or 0),
                                                  float(mean))
        self.recent = [
            Call(str(r["number"]), str(r.get("counter", "")), str(r.get("service", "")),
                 str(r.get("priority") or ""), int(r.get("at") or 0), r.get("type") == "recalled",
                 str(r.get("id") or ""))
            for r in snap.get("recent", []) if r and r.get("number")
        ][:RECENT]
        self.totals = dict(snap.get("totals") or {})
        # A board opened after the day's close: the snapshot says the open day is closed.
        closed = str(snap.get("closed_day") or "")
        self.day_closed = bool(closed) and closed == str(snap.get("open_day") or "")
        self.closed_day = closed if self.day_closed else ""
        self._recompute_eta()

    def apply_event(self, event: Mapping[str, Any]) -> Call | None:
        if not isinstance(event, Mapping) or not isinstance(event.get("type"), str):
            raise ValueError(f"not an event: {event!r:.80}")
        self.totals = dict(event.get("totals") or self.totals)
        self.now_ms = max(self.now_ms, int(event.get("at") or 0))
        ticket = event.get("ticket") or {}
        counter = event.get("counter")
        kind = event["type"]
        if kind == "day_closed":
            self._close_day(event.get("info") or {})
            return None
        if counter:
            self._apply_counter(counter, ticket)
        if kind == "expired":
            self._drop_ticket(str(ticket.get("id") or ""))
        self._count_queued(kind, ticket, counter, event.get("new_ticket"),
                           event.get("info") or {})
        for service, waiting in (event.get("waiting") or {}).items():
            self.services.setdefault(service, ServiceRow(service)).waiting = int(waiting)
        self._recompute_eta()
        if kind not in CALL_EVENTS or not ticket or not counter:
            return None
        self.day_closed = False
        call = Call(str(ticket.get("number", "")), str(counter["id"]),
                    str(ticket.get("service", "")), str(ticket.get("priority") or ""),
                    int(event.get("at") or 0), kind == "recalled", str(ticket.get("id") or ""))
        self.recent = [call, *self.recent][:RECENT]
        return call

    def banner(self) -> Call | None:
        """The newest call that still stands: its counter holds the ticket and is open."""
        for call in self.recent:
            row = self.counters.get(call.counter)
            if (row is not None and row.state == "open" and row.ticket_id
                    and row.ticket_id == call.ticket_id):
                return call
        return None

    def waiting_for_counters(self) -> int:
        """Tickets waiting for one particular counter: the center's waiting count less the
        services' queues (both from the server), so it is right even between snapshots."""
        in_queues = sum(s.waiting for s in self.services.values())
        return max(0, int(self.totals.get("waiting", in_queues)) - in_queues)

    def _close_day(self, info: Mapping[str, Any]) -> None:
        # The engine's end of a center's day (after the expired tickets, the lapsed bookings
        # and the closed counters it sent): every counter is closed, nothing waits any more,
        # and the day's calls are history.
        self.day_closed, self.closed_day = True, str(info.get("day") or "")
        for row in self.counters.values():
            row.state, row.reason, row.queued = "closed", "", 0
            row.number = row.ticket_id = row.priority = row.service = ""
        for service in self.services.values():
            service.waiting = 0
        self.recent = []
        self.totals = {**self.totals, "waiting": 0, "called": 0, "serving": 0}
        self._recompute_eta()

    def _drop_ticket(self, ticket_id: str) -> None:
        for row in self.counters.values():
            if ticket_id and row.ticket_id == ticket_id:
                row.number = row.ticket_id = row.priority = row.service = ""

    def _count_queued(self, kind: str, ticket: Mapping[str, Any],
                      counter: Mapping[str, Any] | None, new: object,
                      info: Mapping[str, Any]) -> None:
        """Per-counter waiting counts between snapshots: a ticket sent to a counter adds one
        there, its call (or its end while waiting) takes it off."""
        if isinstance(new, Mapping) and new.get("status") == "waiting":
            target = self.counters.get(str(new.get("target_counter") or ""))
            if target is not None:
                target.queued += 1
        if kind == "counter_closed" and counter:
            # A closing counter sends the tickets waiting only for it back to their service
            # queue, in the same step (the engine's rule).
            closed = self.counters.get(str(counter.get("id")))
            if closed is not None:
                closed.queued = 0
        if kind == "requeued" and "from_counter" in info:
            # One of them on its way back (the counter's close follows): one fewer there.
            source = self.counters.get(str(info["from_counter"]))
            if source is not None and source.queued:
                source.queued -= 1
        target = self.counters.get(str(ticket.get("target_counter") or ""))
        if target is None or target.queued == 0:
            return
        if kind == "called" or (kind in ("cancelled", "expired", "transferred")
                                and not (counter and counter.get("ticket"))):
            target.queued -= 1

    def _apply_counter(self, counter: Mapping[str, Any], ticket: Mapping[str, Any]) -> None:
        key = str(counter["id"])
        row = self.counters.setdefault(key, CounterRow(key, key))
        row.state = str(counter.get("state") or row.state)
        row.reason = str(counter.get("reason") or "")
        if "services" in counter:
            row.services = _services(counter["services"])
        in_hand = counter.get("ticket") or ""
        if not in_hand:
            row.number = row.ticket_id = row.priority = row.service = ""
        elif ticket.get("id") == in_hand:
            row.number, row.ticket_id = str(ticket.get("number", "")), in_hand
            row.priority = str(ticket.get("priority") or "")
            row.service = str(ticket.get("service") or "")

    def _recompute_eta(self) -> None:
        """queue_server/rules/eta.py: waiting × mean ÷ open counters serving the service."""
        for row in self.services.values():
            row.active = sum(1 for c in self.counters.values()
                             if c.state == "open" and row.id in c.services)
            row.eta_s = round(row.waiting * row.mean_s / row.active) if row.active else None


def wait_text(seconds: int | None) -> str:
    if seconds is None:
        return "chưa có quầy mở"
    minutes = round(seconds / 60)
    return "dưới 1 phút" if minutes < 1 else f"~{minutes} phút"


def render_lines(board: Board, names: Mapping[str, str], status: str = "") -> list[str]:
    """The board as plain lines (no colour): what the terminal shows between redraws."""
    lines = [f"{board.name}    {status}".rstrip(), ""]
    banner = board.banner()
    if banner is not None:
        lines += [f"Mời công dân có số thứ tự {banner.number} đến quầy số {banner.counter}", ""]
    elif board.day_closed:
        lines += [messages.render("day_closed_display"), ""]
    for counter in board.counters.values():
        number = counter.number or "—"
        star = " ★ ưu tiên" if counter.priority else ""
        state = {"open": "", "paused": " (tạm dừng)", "closed": " (đóng)"}.get(counter.state, "")
        queued = f", {counter.queued} người chờ riêng quầy" if counter.queued else ""
        lines.append(f"  {counter.name:<10} {number:>6}{star}{state}{queued}")
    lines += ["", "Số vừa gọi:"]
    lines += [f"  {c.number:>6} → quầy {c.counter}{' (nhắc lại)' if c.recall else ''}"
              for c in board.recent[:6]]
    lines += ["", "Đang chờ:"]
    lines += [f"  {names.get(s.id, s.id)}: {s.waiting} người, {wait_text(s.eta_s)}"
              for s in board.services.values() if s.waiting]
    return lines
