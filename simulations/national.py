"""``python -m simulations.national SCALE.json``: what all of Vietnam's commune-level centers at
a 10× peak would need (Redis Cluster primaries, app processes), derived from measured costs.

The costs come from ``python -m simulations.bench scale --json`` (this machine, same run);
the load from the assumptions below, each a command-line option. docs/scale.md walks through
the result. Every figure is ``load × measured cost ÷ the busy share allowed``: change an
assumption and rerun, nothing is hidden in the arithmetic.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Costs:
    """Measured on this machine (docs/scale.md says which run)."""

    redis_us_per_transition: float   # engine, 50 concurrent clients (scripts batched)
    redis_us_per_cycle_http: float   # through the server one request at a time (4 transitions)
    redis_us_per_ticket_read: float  # a ticket page's state, place and wait
    redis_us_per_stream_read: float  # one replica reading one event (XREAD)
    server_us_per_frame: float       # fan-out, per socket and event
    server_us_per_request: float     # HTTP transition in the app process, fan-out taken off
    kib_per_socket: float
    bytes_per_center: float
    bytes_per_ticket: float          # its record, events and day totals
    bytes_per_event: float           # in a center's stream


def costs_of(scale: dict[str, Any]) -> Costs:
    centers = scale["centers"][-1]
    sockets = scale["sockets"][-1]
    replicas = scale["replicas"][-1]
    stream = replicas["xread_usec_per_event_per_replica"]
    request = sockets["server_cpu_usec_per_request"]
    return Costs(
        redis_us_per_transition=centers["redis_cpu_usec_per_op"],
        redis_us_per_cycle_http=sockets["redis_cpu_usec_per_cycle"],
        redis_us_per_ticket_read=centers["redis_cpu_usec_per_ticket_read"],
        redis_us_per_stream_read=stream,
        server_us_per_frame=sockets["server_cpu_usec_per_frame"],
        server_us_per_request=request,
        kib_per_socket=sockets["kib_per_socket"],
        bytes_per_center=centers["memory_bytes_per_center"],
        bytes_per_ticket=centers["memory_bytes_per_ticket"],
        bytes_per_event=centers["stream_bytes_per_event"],
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulations.national",
                                     description=__doc__.split("\n\n")[0] if __doc__ else "")
    add = parser.add_argument
    add("scale", type=Path, help="JSON of `python -m simulations.bench scale --json`")
    add("--centers", type=int, default=3321, help="commune-level units (3,321 since 1 July 2025)")
    add("--provinces", type=int, default=34)
    add("--counters-per-center", type=float, default=274 / 54,
        help="as in Quang Ninh's province file (5.07)")
    add("--calls-per-counter-hour", type=float, default=20.0,
        help="a peak hour: a call every 3 minutes at every counter (the api bench's)")
    add("--peak-factor", type=float, default=10.0)
    add("--transitions-per-call", type=float, default=4.5,
        help="issue, call, start, complete, and a share of recalls, transfers, bookings")
    add("--tickets-per-counter-day", type=float, default=26.0,
        help="what the simulated day gives (7,240 tickets on 274 counters)")
    add("--displays", type=float, default=2.0, help="lobby screens per center")
    add("--monitors-per-province", type=float, default=2.0, help="province channel sockets")
    add("--waiting-minutes", type=float, default=15.0,
        help="mean wait at the peak: waiting citizens = arrivals × wait")
    add("--ticket-page-share", type=float, default=0.5,
        help="waiting citizens who keep their ticket page open")
    add("--ticket-refresh-s", type=float, default=3.0,
        help="how often a ticket page's place is re-read while its service moves (server: 3)")
    add("--readers-per-center", type=float, default=0.0,
        help="app processes reading each center's stream (0: every app process, as when "
             "sockets land anywhere)")
    add("--reread-us", type=float, default=0.0,
        help="app CPU µs of one ticket page re-read (0: a whole HTTP transition's, the "
             "measured upper bound: the re-read is one script call and one frame)")
    add("--busy", type=float, default=0.5, help="busy share allowed per core (default 0.5)")
    add("--sockets-per-process", type=float, default=10_000,
        help="sockets one app process holds at the measured latency (api bench: 10,000)")
    add("--stream-events", type=float, default=10_000, help="stream_max_events per center")
    add("--shard-memory-gib", type=float, default=8.0, help="memory one primary may hold")
    return parser


def size(args: argparse.Namespace, costs: Costs) -> dict[str, Any]:
    counters = args.centers * args.counters_per_center
    calls_s = counters * args.calls_per_counter_hour * args.peak_factor / 3600
    transitions_s = calls_s * args.transitions_per_call
    waiting = calls_s * args.waiting_minutes * 60
    pages = waiting * args.ticket_page_share
    consoles = counters + args.centers  # counters and a supervisor per center
    sockets = args.centers * args.displays + consoles + pages + (
        args.provinces * args.monitors_per_province)
    page_reads_s = pages / args.ticket_refresh_s
    # Frames: every event to its center's displays, consoles and supervisor, and to its
    # province's monitors; a ticket page gets a frame per refresh.
    per_event = args.displays + args.counters_per_center + 1 + args.monitors_per_province
    frames_s = transitions_s * per_event + page_reads_s
    heartbeats_s = sockets * (1 / 15 + 1 / 20)  # quiet-socket heartbeats and pings
    by_sockets = math.ceil(sockets / args.sockets_per_process)
    app_cpu = {
        "HTTP transitions": transitions_s * costs.server_us_per_request / 1e6,
        "fan-out frames": frames_s * costs.server_us_per_frame / 1e6,
        "heartbeats and pings": heartbeats_s * costs.server_us_per_frame / 1e6,
        "ticket page re-reads": page_reads_s * (args.reread_us or costs.server_us_per_request)
        / 1e6,
    }
    processes = max(by_sockets, math.ceil(sum(app_cpu.values()) / args.busy))
    readers = args.readers_per_center or processes
    redis_cpu = {
        "transitions (batched .. one at a time)": (
            transitions_s * costs.redis_us_per_transition / 1e6,
            transitions_s * costs.redis_us_per_cycle_http / 4 / 1e6),
        "stream reads by app processes": (transitions_s * readers
                                          * costs.redis_us_per_stream_read / 1e6,) * 2,
        "ticket page re-reads": (page_reads_s * costs.redis_us_per_ticket_read / 1e6,) * 2,
    }
    low = sum(v[0] for v in redis_cpu.values())
    high = sum(v[1] for v in redis_cpu.values())
    tickets_day = counters * args.tickets_per_counter_day * args.peak_factor
    memory = {
        "centers": args.centers * costs.bytes_per_center,
        "a day of tickets": tickets_day * costs.bytes_per_ticket,
        "streams at their cap": args.centers * args.stream_events * costs.bytes_per_event,
        "app sockets (across processes)": sockets * costs.kib_per_socket * 1024,
    }
    redis_memory = sum(v for k, v in memory.items() if not k.startswith("app"))
    shards_cpu = (math.ceil(low / args.busy), math.ceil(high / args.busy))
    shards_memory = math.ceil(redis_memory / (args.shard_memory_gib * 2**30))
    return {
        "load": {"counters": round(counters), "calls_per_s": round(calls_s, 1),
                 "transitions_per_s": round(transitions_s), "sockets": round(sockets),
                 "ticket_pages": round(pages), "page_reads_per_s": round(page_reads_s),
                 "frames_per_s": round(frames_s), "heartbeats_per_s": round(heartbeats_s)},
        "app_cpu_cores": {k: round(v, 2) for k, v in app_cpu.items()},
        "app_processes": {"by_cpu": math.ceil(sum(app_cpu.values()) / args.busy),
                          "by_sockets": by_sockets, "needed": processes},
        "redis_cpu_cores": {k: [round(x, 2) for x in v] for k, v in redis_cpu.items()},
        "redis_memory_gib": {k: round(v / 2**30, 2) for k, v in memory.items()},
        "shards": {"by_cpu": list(shards_cpu), "by_memory": shards_memory,
                   "needed": [max(shards_cpu[0], shards_memory),
                              max(shards_cpu[1], shards_memory)]},
        "costs": costs.__dict__,
    }


def render(result: dict[str, Any]) -> str:
    lines = []
    for section, values in result.items():
        lines.append(section)
        lines += [f"  {k:<42} {v}" for k, v in values.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        scale = json.loads(args.scale.read_text(encoding="utf-8"))
        costs = costs_of(scale)
    except (OSError, ValueError, KeyError, IndexError) as error:
        print(f"error: {args.scale}: not the JSON of a full `simulations.bench scale` run "
              f"({type(error).__name__}: {error})", file=sys.stderr)
        return 2
    print(render(size(args, costs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
