"""``python -m simulations.live --speed 60 [--url URL] [--center …]``: the simulated day, driven
through a running server's real HTTP API while real WebSocket channels follow it.

The day is the offline one (same province file, demand profile, seed, roster: the citizens of
simulations/citizens.py and the behaviour of simulations/process.py); only the backend differs:
simulated citizens take kiosk tickets, book online or for a slot and check in, give up and
cancel; simulated staff log in, open counters by the roster, call, recall, press no-show,
start, complete, transfer and pause. The server's clock cannot be sped up, so simulated time
runs on the wall clock at ``--speed`` (simulations/live/clock.py) and waits are reported in
simulated minutes, beside the offline prediction for the same seed.

Given several ``--url`` (replicas of one server sharing one Redis), requests take them in turn
and every display and the province channel are followed on each replica, so each replica's hub
must deliver every call; ticket pages alternate between them.

At the end: waits by center and hour, every error (there must be none), and every call and
recall the driver made found once on each display socket of its center and on the province
socket (each display is cut once mid-drive and must resume by last_id); exit code 0 when all
holds, 1 when not, 2 when the server refuses the drive (one sentence, nothing half-made).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from queue_server.errors import ConfigError
from queue_server.rules.clock import TIMEZONE
from simulations.citizens import Citizen
from simulations.errors import PlanningInputError
from simulations.inputs import Inputs, add_input_arguments, read_inputs
from simulations.live.backend import Credentials, LiveBackend
from simulations.live.client import Api, ServerRefused, Unreachable
from simulations.live.clock import Failure, WallClock
from simulations.live.report import (
    DriveReport,
    check_socket,
    compare,
    quantiles,
    render,
    ticket_pages,
)
from simulations.live.setup import Refused, preflight, replica_channels, set_up, tear_down
from simulations.live.sockets import Follower
from simulations.offline import Window, day_plan, simulate_day
from simulations.opening import local_midnight_ms, opening_intervals
from simulations.process import CenterDay, CenterRecord
from simulations.roster import Desk

DEFAULT_URL = "http://127.0.0.1:8000"
DRAIN_S = 1.5
BLIP_AT = 0.4  # share of the drive after which every display is cut once


DayPlan = tuple[list[Citizen], list[Desk], list[tuple[int, int]], dict[str, list[int]]]


@dataclasses.dataclass
class Plan:
    inputs: Inputs
    window: Window
    days: dict[str, DayPlan]

    @property
    def desks(self) -> dict[str, list[Desk]]:
        return {code: plan[1] for code, plan in self.days.items()}

    @property
    def end_ms(self) -> int:
        return max(t for plan in self.days.values() for t, _ in plan[2])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulations.live",
        description="Chạy ngày mô phỏng trên máy chủ thật / drive the simulated day through a "
                    "running server's HTTP API and WebSocket channels, at an accelerated clock.")
    add_input_arguments(parser)
    add = parser.add_argument
    add("--url", action="append", metavar="URL",
        help=f"the server (default {DEFAULT_URL}); repeat it for replicas of one server: "
             "requests take them in turn, displays and the province follow on each")
    add("--speed", type=float, default=60.0,
        help="simulated seconds per wall second (default 60: an hour a minute)")
    add("--from", dest="start", metavar="HH:MM", help="start of the simulated window "
        "(default: the day's opening)")
    add("--until", metavar="HH:MM", help="end of the window (default: the day's closing)")
    add("--serve-after-closing", type=float, metavar="MIN",
        help="minutes counters keep serving after the window or an interval ends "
             "(default: the demand profile's)")
    add("--user", default="province", help="province account (default: the demo's, province)")
    add("--password", default="matkhau123", help="its password (default: the demo's)")
    add("--staff-password", default="sim-staff-password",
        help="password of the staff accounts the drive creates and reuses")
    add("--ticket-pages", type=int, default=20, metavar="N",
        help="online bookings whose ticket page socket follows them (default 20)")
    add("--no-blip", action="store_true", help="do not cut the display sockets mid-drive")
    add("--json", type=Path, metavar="FILE", help="write the report as JSON too")
    return parser


def _minute(text: str | None, default: int) -> int:
    if text is None:
        return default
    try:
        hours, minutes = (int(part) for part in text.split(":"))
    except ValueError:
        raise PlanningInputError("--from/--until", "time", f"expected HH:MM, got {text!r}"
                                 ) from None
    return hours * 60 + minutes


def plan_drive(args: argparse.Namespace) -> Plan:
    inputs = read_inputs(args)
    profile = inputs.profile
    if args.serve_after_closing is not None:
        profile = dataclasses.replace(profile, serve_after_closing_s=args.serve_after_closing * 60)
    if not args.speed > 0:
        raise PlanningInputError("--speed", "speed", f"expected above 0, got {args.speed:g}")
    intervals = [opening_intervals(inputs.province, c, inputs.date) for c in inputs.centers]
    first = min(i[0][0] for i in intervals)
    last = max(i[-1][1] for i in intervals)
    start, until = _minute(args.start, first), _minute(args.until, last)
    if not start < until:
        raise PlanningInputError("--from/--until", "time", "expected --from before --until")
    midnight = local_midnight_ms(inputs.date)
    window = Window(midnight + start * 60_000, midnight + until * 60_000)
    days = {}
    for center in inputs.centers:
        roster = inputs.rosters.get(center.id)
        if roster and max(roster.values()) > len(center.counters):
            raise PlanningInputError(args.roster, "counters", f"asks for {max(roster.values())}"
                                     f" counters; the server has {len(center.counters)} at "
                                     f"{center.display_name}", center.id)
        days[center.id] = day_plan(inputs.province, profile, center, inputs.date, args.seed,
                                   roster, window)
    return Plan(dataclasses.replace(inputs, profile=profile), window, days)


class Drive:
    """The day running on the wall clock against the server, with its channels following
    (on each replica's channels when there are several)."""

    def __init__(self, args: argparse.Namespace, plan: Plan, api: Api,
                 credentials: Credentials, channels: Sequence[str],
                 on_start: Callable[[WallClock], None] | None = None) -> None:
        self.args, self.plan, self.channels = args, plan, list(channels)
        self.on_start = on_start
        self.clock = WallClock(plan.window.start_ms, args.speed)
        self.pages: list[Follower] = []
        self._shown = -1
        self.backend = LiveBackend(api, self.clock, credentials, secrets.token_hex(6),
                                   self._follow_ticket)
        # a replica's name in the report, when there are several
        self.vias = {base: _via(base) if len(self.channels) > 1 else ""
                     for base in self.channels}
        self.displays = [Follower(f"display {c.id}", f"{base}/display/{c.id}?token="
                                  f"{credentials.display[c.id]}", via=self.vias[base])
                         for c in plan.inputs.centers for base in self.channels]
        self.provinces = [Follower("province", f"{base}/province?token={credentials.province}",
                                   resumable=False, via=self.vias[base])
                          for base in self.channels]
        self.days = [CenterDay(code, *plan.days[code], plan.inputs.profile, self.backend,
                               self.clock) for code in plan.days]

    @property
    def followers(self) -> list[Follower]:
        return self.displays + self.provinces

    def _follow_ticket(self, ticket: str, token: str) -> None:
        if len(self.pages) < self.args.ticket_pages:
            base = self.channels[len(self.pages) % len(self.channels)]
            page = Follower(f"ticket {ticket}", f"{base}/ticket/{ticket}?token={token}",
                            resumable=False, via=self.vias[base])
            self.pages.append(page)
            page.start()

    async def run(self) -> list[CenterRecord]:
        for follower in self.followers:
            follower.start()
        for follower in self.followers:
            if not await follower.wait_ready(10):
                raise Refused(f"the {follower.name} channel at {self.channels} did not answer: "
                              f"{'; '.join(follower.errors) or 'no snapshot within 10 s'}")
        self.clock.start()
        if self.on_start is not None:
            self.on_start(self.clock)
        for day in self.days:
            day.begin()
        if not self.args.no_blip:
            span = self.plan.end_ms - self.plan.window.start_ms
            self.clock.at(self.plan.window.start_ms + int(BLIP_AT * span), self._blip)
        await self._until_done()
        if sys.stderr.isatty():
            print(file=sys.stderr)
        await asyncio.sleep(DRAIN_S)
        for follower in self.followers + self.pages:
            await follower.stop()
        return [day.close(self.clock.now()) for day in self.days]

    async def _blip(self) -> None:
        for follower in self.displays:
            await follower.blip()

    async def _until_done(self) -> None:
        stopped = False
        while True:
            await asyncio.sleep(0.25)
            self._progress()
            now = self.clock.now()
            if not stopped and now >= self.plan.window.end_ms and all(
                    d.settled(now) for d in self.days):
                for day in self.days:
                    await self.clock.spawn(day.stop_staffing)
                stopped = True
            closed = all(run.state == "closed" for day in self.days for run in day.runs)
            if (now >= self.plan.end_ms or stopped) and self.clock.busy == 0 and closed:
                return
            if now > self.plan.end_ms + 3_600_000:  # an hour past the end: something is stuck
                busy = [f"{d.center}/{r.desk.id}:{r.state}" for d in self.days for r in d.runs
                        if r.state != "closed"]
                self.clock.failures.append(Failure(now, "the day did not end: counters still "
                                                   + ", ".join(busy)))
                return

    def _progress(self) -> None:
        span = self.plan.end_ms - self.plan.window.start_ms
        now = self.clock.now()
        share = min(max((now - self.plan.window.start_ms) / span, 0.0), 1.0)
        bar = "█" * int(share * 30) + "░" * (30 - int(share * 30))
        moment = dt.datetime.fromtimestamp(now / 1000, TIMEZONE)
        tickets = sum(len(d.record.visits) for d in self.days)
        calls = sum(len(v) for v in self.backend.tally.calls.values())
        line = (f"{bar} {share:4.0%}  {moment:%H:%M} mô phỏng/simulated  {tickets} tickets  "
                f"{calls} calls  {len(self.clock.failures)} errors")
        if sys.stderr.isatty():
            print("\r" + line, end="", file=sys.stderr, flush=True)
        elif int(share * 10) > self._shown:  # a log gets a line every tenth of the day
            self._shown = int(share * 10)
            print(line, file=sys.stderr, flush=True)


def _via(channels: str) -> str:
    """A replica's name in the report: the host and port of its channels."""
    return channels.split("://", 1)[-1].split("/", 1)[0]


async def drive(args: argparse.Namespace, plan: Plan,
                on_start: Callable[[WallClock], None] | None = None) -> DriveReport:
    """The drive and its report; ``on_start`` is called with the simulated clock as the day
    starts (after set-up), for an observer that stamps its own samples in simulated time."""
    inputs = plan.inputs
    started = time.monotonic()
    urls = args.url or [DEFAULT_URL]
    api = Api(urls)
    try:
        span_s = (plan.end_ms - plan.window.start_ms) / 1000 / args.speed
        now = dt.datetime.now(TIMEZONE)
        _, token = await preflight(api, inputs.province, inputs.centers, plan.desks,
                                   args.user, args.password,
                                   (now, now + dt.timedelta(seconds=span_s)))
        channels = await replica_channels(urls)
        credentials = Credentials(province=token)
        try:
            await set_up(api, credentials, inputs.centers, plan.desks, args.staff_password,
                         "simulations.live")
            run = Drive(args, plan, api, credentials, channels, on_start)
            records = await run.run()
        finally:
            problems = await tear_down(api, credentials, inputs.centers, plan.desks)
        requests, actions, by_url = api.requests, dict(api.actions), dict(api.by_url)
        http_ms = quantiles(api.latencies_ms)
    finally:
        await api.aclose()
    offline = [simulate_day(inputs.province, inputs.profile, c, inputs.date, args.seed,
                            inputs.rosters.get(c.id), plan.window) for c in inputs.centers]
    hours, tickets = compare(records, offline, inputs.profile.target_wait_s)
    backend, clock, pages = run.backend, run.clock, run.pages
    expected = dict(backend.tally.calls)
    errors = [f"{dt.datetime.fromtimestamp(f.sim_ms / 1000, TIMEZONE):%H:%M:%S} {f.error}"
              for f in clock.failures]
    errors += [e for f in run.followers + pages for e in f.errors] + problems
    errors += [f"{r.center}: the server called {t}, a ticket the drive did not make"
               for r in records for t in r.foreign_calls]
    checks = [check_socket(f, {f.name.split(" ", 1)[1]: expected.get(f.name.split(" ", 1)[1],
                                                                     [])})
              for f in run.displays]
    checks += [check_socket(f, expected) for f in run.provinces]
    return DriveReport(args.speed, args.seed, [c.id for c in inputs.centers], hours, tickets,
                       errors, backend.tally.races, checks, ticket_pages(pages, backend.tally),
                       requests, actions, time.monotonic() - started,
                       quantiles(clock.lags_ms, 0.001), http_ms, by_url=by_url)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        plan = plan_drive(args)
        report = asyncio.run(drive(args, plan))
    except (Refused, ConfigError, Unreachable, ServerRefused) as error:
        # Unreachable or refused during set-up: the server went away or changed under us.
        print(f"error: {error}", file=sys.stderr)
        return 2
    names = {c.id: c.display_name for c in plan.inputs.centers}
    print(render(report, names))
    if args.json:
        args.json.write_text(json.dumps(report.as_json(), indent=1, ensure_ascii=False),
                             encoding="utf-8")
    return 0 if report.ok else 1
