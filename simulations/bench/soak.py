"""``soak``: a whole simulated day of the province against two app replicas; memory must stay
flat, and nothing may be lost on the way.

Method (docs/benchmarks.md, "Soak", has the figures):

1. Real processes on free loopback ports: one Redis (AOF, ``appendfsync always``: the embedded
   default) and two replicas of the app (``uvicorn qms.asgi:create``, as production runs it)
   sharing it and one signing key; no archive (``QMS_ARCHIVE=0``: the soak is about the live
   path, and a PostgreSQL per run would take the machine's cores). The replicas' planned full
   garbage collection (hourly, ``QMS_GC_FULL_EVERY_S``) runs once a *simulated* hour, so the
   compressed day has the collections a real one has.
2. The live driver (simulations/live) drives the day through them: the province file's opening
   hours on the default date (07:30–17:00 on a weekday, then the demand profile's serving after
   closing), every center unless ``--centers``, at ``--speed`` (60: an hour a minute; ``--hours``
   drives only the first hours). Requests alternate between the replicas; every center's
   display and the province channel are followed on *each* replica for the whole day (each
   display cut once at 40 % and resumed by ``last_id``), and the first ``--ticket-pages``
   online bookings' ticket pages, alternating replicas. The driver checks every call and recall
   it made on every one of those sockets: missed, doubled, unexpected.
3. Every ``--sample-minutes`` simulated minutes, the VmRSS and Pss of each replica and of Redis,
   and Redis's ``INFO memory`` (simulations/bench/_soak_memory.py); the second half of the day
   is fitted for the growth slope and judged ``flat`` or ``growing`` (the rule is in that
   module). The samples go to an SVG (``--out``) and to the JSON. The goal is on the
   replicas: they hold no state (DESIGN.md, principle 1), so their memory must not follow the
   day. Redis is where the day lives (its tickets until the day's close, each answer kept for
   its Idempotency-Key for a day): its growth is reported with the same rule and as bytes of
   ``used_memory`` per ticket of the day, not as a goal.

The server's clock is real: the replicas' day scheduler closes a center's day at its real
closing time plus the grace (and at midnight), which would expire the drive's tickets mid-day,
so the bench refuses to start a run that would cross one of those instants.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from queue_server.accounts import AccountStore
from queue_server.auth import Role
from queue_server.embedded import EmbeddedRedis
from queue_server.redis_client import close, connect
from queue_server.rules.clock import TIMEZONE
from queue_server.script_runner import ScriptRunner
from simulations.bench import Benchmark
from simulations.bench._api_stack import ApiServer, CpuWatch, raise_fd_limit
from simulations.bench._soak_memory import FLAT_MIB, FLAT_SHARE, MemoryWatch, summary
from simulations.bench._soak_plot import Series, write_svg
from simulations.live.cli import Plan, build_parser, drive, plan_drive
from simulations.live.report import DriveReport
from simulations.opening import local_midnight_ms, opening_intervals

REPLICAS = ("replica_a", "replica_b")
PROVINCE_USER = "soak-province"
SETUP_MARGIN_S = 180.0   # logins and devices before the day starts, and the drain after it
REAL_HOUR_S = 3600.0


def live_arguments(args: argparse.Namespace, urls: list[str], password: str
                   ) -> argparse.Namespace:
    """The live driver's own options for this soak (its parser, so its defaults)."""
    argv = ["--user", PROVINCE_USER, f"--password={password}", "--speed", f"{args.speed:g}",
            "--ticket-pages", str(args.ticket_pages), "--seed", str(args.seed)]
    for url in urls:
        argv += ["--url", url]
    for code in args.centers or []:
        argv += ["--center", code]
    if args.serve_after_closing is not None:
        argv += ["--serve-after-closing", f"{args.serve_after_closing:g}"]
    live = build_parser().parse_args(argv)
    if args.hours is not None:
        plan = plan_drive(live)
        days = [opening_intervals(plan.inputs.province, c, plan.inputs.date)
                for c in plan.inputs.centers]
        first, last = min(d[0][0] for d in days), max(d[-1][1] for d in days)
        until = min(first + max(round(args.hours * 60), 1), last)
        live.start, live.until = f"{first // 60:02d}:{first % 60:02d}", \
            f"{until // 60:02d}:{until % 60:02d}"
    return live


def refuse_real_close(plan: Plan, speed: float) -> None:
    """Stop before starting when a center's real day would close during the run."""
    span_s = (plan.end_ms - plan.window.start_ms) / 1000 / speed + SETUP_MARGIN_S
    now_ms = time.time() * 1000
    today = dt.datetime.now(TIMEZONE).date()
    for center in plan.inputs.centers:
        for instant in center.calendar.close_instants(today, 2):
            if now_ms <= instant.at_ms <= now_ms + span_s * 1000:
                at = dt.datetime.fromtimestamp(instant.at_ms / 1000, TIMEZONE)
                raise SystemExit(
                    f"soak: {center.display_name} ({center.id}) closes its real day at "
                    f"{at:%H:%M} (Asia/Ho_Chi_Minh, {instant.kind}), within the "
                    f"~{span_s / 60:.0f} minutes this run takes; the close would expire the "
                    "drive's tickets: run it after that, or shorter (--hours, --speed)")


async def province_account(redis_url: str, password: str) -> None:
    client = connect(redis_url)
    try:
        store = AccountStore(ScriptRunner(client, batch=False))
        await store.runner.load()
        await store.create_staff(PROVINCE_USER, password, "Soak province", Role.PROVINCE, None)
    finally:
        await close(client)


def _counts(report: DriveReport) -> dict[str, int]:
    called, saw = report.ticket_pages
    return {"error_count": len(report.errors),
            "missed_events": sum(len(s.missing) for s in report.sockets),
            "doubled_events": sum(len(s.doubled) for s in report.sockets),
            "unexpected_events": sum(len(s.unexpected) for s in report.sockets),
            "ticket_pages_missed": called - saw}


async def soak(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    raise_fd_limit()
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    redis = EmbeddedRedis(folder / "redis", appendfsync="always").start()
    secret = secrets.token_urlsafe(32)
    env = {"QMS_ARCHIVE": "0", "QMS_GC_FULL_EVERY_S": f"{REAL_HOUR_S / args.speed:g}"}
    servers = [ApiServer(redis.url, folder / name, secret_key=secret, extra_env=env)
               for name in REPLICAS]
    try:
        await asyncio.gather(*(asyncio.to_thread(s.start) for s in servers))
        password = secrets.token_hex(12)
        await province_account(redis.url, password)
        urls = [f"http://127.0.0.1:{s.port}" for s in servers]
        live = live_arguments(args, urls, password)
        plan = plan_drive(live)
        refuse_real_close(plan, args.speed)
        assert redis.pid is not None
        pids = {name: s.pid for name, s in zip(REPLICAS, servers, strict=True)}
        pids["redis"] = redis.pid
        watch = MemoryWatch(pids, redis.url, args.sample_minutes, args.speed)
        watch.start()
        cpu: list[CpuWatch] = []

        def day_starts(clock: Any) -> None:
            watch.begin(clock)
            cpu.append(CpuWatch(pids))

        try:
            report = await drive(live, plan, on_start=day_starts)
        finally:
            await watch.stop()
        busy = cpu[0].busy() if cpu else {}
    finally:
        for server in servers:
            server.stop()
        redis.stop()
    midnight = local_midnight_ms(plan.inputs.date)
    return result_of(args, plan, report, watch, midnight, busy, {
        "loadavg_1min_before": round(load_before, 2),
        "loadavg_1min_after": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()},
        time.monotonic() - started)


def result_of(args: argparse.Namespace, plan: Plan, report: DriveReport, watch: MemoryWatch,
              midnight: int, busy: dict[str, float], machine: dict[str, Any], wall_s: float
              ) -> dict[str, Any]:
    memory = summary(watch.samples, midnight) if watch.samples else {}
    counts = _counts(report)
    result: dict[str, Any] = {**counts, **{f"{k}_goal": "<= 0" for k in counts}}
    processes = list(watch.pids)
    rss = {key: {p: memory[key][p] for p in processes} for key in ("start", "middle", "end")} \
        if memory else {}
    result.update({
        "tickets": sum(live for live, _ in report.tickets.values()),
        "calls": max((s.expected for s in report.sockets if s.name.startswith("province")),
                     default=0),
        "requests": report.requests,
        "http_ms": report.http_ms, "clock_lag_s": report.lag_s,
        "rss_mib_start": rss.get("start"), "rss_mib_middle": rss.get("middle"),
        "rss_mib_end": rss.get("end"),
        "growth_mib_per_sim_hour": {p: memory["slope"][p] for p in processes} if memory else {},
        "second_half_growth_mib": {p: memory["growth"][p] for p in processes} if memory else {},
        "redis_used_memory_mib": {k: memory[k]["redis used_memory"]
                                  for k in ("start", "middle", "end")} if memory else {},
        "redis_used_memory_bytes_per_ticket": round(
            (memory["end"]["redis used_memory"] - memory["start"]["redis used_memory"])
            * 1024 * 1024 / max(1, sum(live for live, _ in report.tickets.values())))
        if memory else None,
        "cpu_cores_busy": busy,
        "wall_s": round(wall_s, 1),
        "goals": {f"second_half_growth_mib.{p}_at_most_{memory['threshold'][p]:g}":
                  memory["verdict"][p] == "flat" for p in REPLICAS} if memory else {},
        "verdicts": {p: memory["verdict"][p] for p in processes} if memory else {},
        "flat_rule": f"growth fitted over the second half of the day at most {FLAT_MIB:g} MiB "
                     f"or {FLAT_SHARE:.0%} of the process's memory at mid-day, whichever is "
                     "larger",
        "setup": {"speed": args.speed, "centers": len(plan.inputs.centers),
                  "date": plan.inputs.date.isoformat(), "replicas": len(REPLICAS),
                  "window": [_clock(plan.window.start_ms, midnight),
                             _clock(plan.window.end_ms, midnight)],
                  "day_end": _clock(plan.end_ms, midnight),
                  "sample_minutes": args.sample_minutes,
                  "gc_full_every_s": REAL_HOUR_S / args.speed,
                  "ticket_pages": args.ticket_pages, "archive": False,
                  "redis_appendfsync": "always", "seed": args.seed},
        "machine": machine,
        "errors": report.errors,
        "drive": {"ok": report.ok, "requests_by_url": report.by_url,
                  "actions": report.actions, "races": len(report.races),
                  "ticket_pages": {"called": report.ticket_pages[0],
                                   "saw_call": report.ticket_pages[1]},
                  "sockets": [{"name": s.name, "expected": s.expected, "seen": s.seen,
                               "missing": len(s.missing), "doubled": len(s.doubled),
                               "unexpected": len(s.unexpected), "connects": s.connects,
                               "snapshots_after_reconnect": s.snapshots_after_reconnect}
                              for s in report.sockets]},
        "samples": [s.as_json(midnight) for s in watch.samples],
    })
    if memory:
        result["svg"] = str(plot(memory, watch, midnight, args))
    return result


def _clock(ms: int, midnight: int) -> str:
    minutes = (ms - midnight) // 60_000
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def plot(memory: dict[str, Any], watch: MemoryWatch, midnight: int, args: argparse.Namespace
         ) -> Path:
    from simulations.bench._soak_memory import series

    found = series(watch.samples, midnight)
    lines = [Series(f"{name} (VmRSS)", found[name]) for name in watch.pids]
    lines.append(Series("redis used_memory", found["redis used_memory"], dashed=True,
                        colour_of="redis (VmRSS)"))
    verdicts = ", ".join(f"{p} {memory['verdict'][p]}" for p in watch.pids)
    title = (f"soak: {len(args.centers or []) or 'all'} centers at speed {args.speed:g}, "
             f"2 replicas + Redis; second half: {verdicts}")
    return write_svg(lines, args.out, title, shade_from=memory["half_from"])


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.centers is not None:
        args.centers = [c for part in args.centers for c in part.split(",") if c]
    with tempfile.TemporaryDirectory(prefix="qms-soak-") as tmp:
        return asyncio.run(soak(args, Path(tmp)))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--speed", type=float, default=60.0,
        help="simulated seconds per wall second (default 60: the day in about 10 minutes)")
    add("--centers", action="append", metavar="CODE,CODE",
        help="only these centers (comma-separated or repeated; default: every center)")
    add("--hours", type=float, metavar="H",
        help="drive only the first H simulated hours from the day's opening (default: all)")
    add("--sample-minutes", type=float, default=5.0, metavar="MIN",
        help="simulated minutes between memory samples (default 5)")
    add("--ticket-pages", type=int, default=100, metavar="N",
        help="online bookings whose ticket page is followed all day (default 100)")
    add("--serve-after-closing", type=float, metavar="MIN",
        help="minutes counters keep serving after closing (default: the demand profile's)")
    add("--seed", type=int, default=1, help="the day's random seed (default 1)")
    add("--out", type=Path, default=Path("soak-memory.svg"), metavar="FILE",
        help="the memory plot (default soak-memory.svg)")


def render(result: dict[str, Any]) -> str:
    setup = result["setup"]
    lines = [f"soak: {setup['centers']} centers, {setup['window'][0]}–{setup['day_end']} "
             f"simulated at speed {setup['speed']:g}, two replicas on one Redis; "
             f"{result['tickets']} tickets, {result['calls']} calls and recalls, "
             f"{result['requests']} requests in {result['wall_s']:.0f} s",
             f"  errors {result['error_count']}, missed events {result['missed_events']}, "
             f"doubled {result['doubled_events']}, unexpected {result['unexpected_events']}, "
             f"ticket pages that missed their call {result['ticket_pages_missed']}",
             f"  HTTP ms {result['http_ms']}; clock lag (simulated s) {result['clock_lag_s']}; "
             f"CPU busy (cores) {result['cpu_cores_busy']}",
             "  memory (MiB, VmRSS)      start   middle      end  MiB/sim h  2nd half  verdict"]
    for name in result["verdicts"]:
        lines.append(f"  {name:<22} {result['rss_mib_start'][name]:>7.1f} "
                     f"{result['rss_mib_middle'][name]:>8.1f} {result['rss_mib_end'][name]:>8.1f}"
                     f" {result['growth_mib_per_sim_hour'][name] or 0:>10.2f} "
                     f"{result['second_half_growth_mib'][name] or 0:>9.2f}  "
                     f"{result['verdicts'][name]}")
    used = result["redis_used_memory_mib"]
    if used:
        lines.append(f"  redis used_memory      {used['start']:>7.1f} {used['middle']:>8.1f} "
                     f"{used['end']:>8.1f}")
    lines.append(f"  flat: {result['flat_rule']}")
    lines += [f"  error: {e}" for e in result["errors"][:20]]
    if "svg" in result:
        lines.append(f"  plot: {result['svg']}")
    return "\n".join(lines)


BENCH = Benchmark(
    name="soak",
    summary="a whole simulated day of the province against two replicas: no error, no "
    "missed call, memory flat",
    description=__doc__ or "",
    add_arguments=add_arguments,
    run=run,
    render=render,
)

if __name__ == "__main__":  # pragma: no cover
    sys.exit("run it as: python -m simulations.bench soak")
