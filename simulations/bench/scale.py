"""``scale``: how the costs grow with centers, sockets and replicas — the measurements behind
docs/scale.md and its national extrapolation.

Three sweeps, each against its ceiling measured in the same run:

1. **centers** (``--centers 54,216,864``; the province's 54 centers cloned with new codes): an
   embedded Redis, every center synced and every counter opened, then 50 clients cycling issue
   → call next → start → complete through ``Engine`` for ``--seconds`` in rounds alternating
   with the bare ``noop`` script (the ceiling). Per size: transitions/s, Redis CPU and client
   CPU µs per transition (``INFO cpu``, ``time.process_time``), Redis memory per center (synced,
   counters open), per ticket served (its record, its events, its day totals) and per stream
   event (``MEMORY USAGE`` of the streams ÷ their length).
2. **sockets** (``--sockets 1000,3000,6000``): the real server (uvicorn, one process), that many
   display sockets on one center (lean clients, simulations/bench/_lean_ws.py), ``--calls``
   call-next requests: server memory per socket, server CPU per frame delivered, call → frame
   p50 / p99. Ceiling: the kernel's cost of one ~300-byte TCP send over loopback, measured
   here on as many socket pairs (fan-out cannot be cheaper).
3. **replicas** (``--replicas 1,2``): that many server processes on one Redis, ``--replica-sockets``
   display sockets split evenly over them, calls through the first: latency, CPU per frame per
   process, and Redis CPU per call, which grows with the replicas that read the center's stream.

``--sweeps centers,sockets,replicas`` picks sweeps. Figures are noisy on a shared machine:
compare each with its ceiling from the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import platform
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from queue_server import keys
from queue_server.embedded import EmbeddedRedis
from queue_server.engine import Engine
from queue_server.province import Center, Province, load_province
from queue_server.redis_client import RedisClient, connect
from queue_server.script_runner import ScriptRunner
from simulations.bench import Benchmark

CLIENTS = 50


def cloned(province: Province, centers: int) -> Province:
    """The province with its centers repeated (codes ``CODE_k``) up to ``centers``."""
    out: list[Center] = []
    k = 0
    while len(out) < centers:
        for center in province.centers:
            if len(out) == centers:
                break
            out.append(center if k == 0 else dataclasses.replace(center, id=f"{center.id}_{k}"))
        k += 1
    return dataclasses.replace(province, centers=tuple(out))


async def _info(client: RedisClient, section: str) -> dict[str, Any]:
    answer: dict[str, Any] = await client.info(section)
    return answer


async def _redis_cpu(client: RedisClient) -> float:
    info = await _info(client, "cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


async def _memory(client: RedisClient) -> int:
    return int((await _info(client, "memory"))["used_memory"])


@dataclasses.dataclass(frozen=True)
class Station:
    center: str
    counter: str
    staff: str
    services: tuple[str, ...]


async def _cycles(engine: Engine, hand: list[Station], deadline: float, ops: Counter[str]
                  ) -> None:
    loop, i = asyncio.get_running_loop(), 0
    while loop.time() < deadline:
        s = hand[i % len(hand)]
        await engine.issue(s.center, s.services[i % len(s.services)])
        called = await engine.call_next(s.center, s.counter, s.staff)
        ops["issue"] += 1
        ops["call_next"] += 1
        if called.ticket is not None:
            await engine.start(s.center, s.counter, s.staff)
            await engine.complete(s.center, s.counter, s.staff)
            ops["start"] += 1
            ops["complete"] += 1
        i += 1


async def _reads(engine: Engine, tickets: list[str], deadline: float, ops: Counter[str]
                 ) -> None:
    """What a citizen's ticket page costs: its state, place and estimated wait, read again."""
    loop, i = asyncio.get_running_loop(), 0
    while loop.time() < deadline:
        await engine.ticket(tickets[i % len(tickets)])
        ops["read"] += 1
        i += 1


async def _noops(engine: Engine, hand: list[Station], deadline: float, ops: Counter[str]
                 ) -> None:
    loop, i = asyncio.get_running_loop(), 0
    names = [keys.center_prefix(s.center) + "bench:noop" for s in hand]
    while loop.time() < deadline:
        await engine.runner.run("noop", [names[i % len(names)]], ["", ""])
        ops["noop"] += 1
        i += 1


async def centers_point(url: str, province: Province, seconds: float) -> dict[str, Any]:
    client = connect(url, max_connections=CLIENTS + 8)
    runner = ScriptRunner(client)
    try:
        await client.flushall()
        await runner.load()
        empty = await _memory(client)
        engine = Engine(runner, province)
        await engine.sync_province()
        stations = [Station(c.id, k.id, f"scale-{c.id}-{k.id}", k.services)
                    for c in province.centers for k in c.counters]
        for s in stations:
            await engine.open_counter(s.center, s.counter, s.staff, force=True)
        configured = await _memory(client)
        hands = [stations[k::CLIENTS] for k in range(CLIENTS) if stations[k::CLIENTS]]
        totals = {kind: {"ops": 0, "s": 0.0, "redis": 0.0, "client": 0.0}
                  for kind in ("engine", "noop")}
        issued = 0
        rounds = max(2, int(seconds))
        for r in range(rounds):
            for kind in (("engine", "noop") if r % 2 == 0 else ("noop", "engine")):
                ops: Counter[str] = Counter()
                worker = _cycles if kind == "engine" else _noops
                redis_before, cpu_before = await _redis_cpu(client), time.process_time()
                loop = asyncio.get_running_loop()
                start = loop.time()
                await asyncio.gather(*(worker(engine, hand, start + seconds / rounds, ops)
                                       for hand in hands))
                tally = totals[kind]
                tally["s"] += loop.time() - start
                tally["client"] += time.process_time() - cpu_before
                tally["redis"] += await _redis_cpu(client) - redis_before
                tally["ops"] += sum(ops.values())
                issued += ops["issue"]
        reads: Counter[str] = Counter()
        waiting = [engine.issue(s.center, s.services[0]) for s in stations[:CLIENTS * 4]]
        tickets = [t.id for t in await asyncio.gather(*waiting)]
        issued += len(tickets)
        redis_before = await _redis_cpu(client)
        start = asyncio.get_running_loop().time()
        await asyncio.gather(*(_reads(engine, tickets[k::CLIENTS], start + seconds / 2, reads)
                               for k in range(CLIENTS)))
        read_cpu = await _redis_cpu(client) - redis_before
        noops = {keys.center_prefix(s.center) + "bench:noop" for s in stations}
        await client.delete(*noops)  # the ceiling's scratch keys are no ticket's memory
        loaded = await _memory(client)
        sample = [c.id for c in province.centers[:20]]
        events = used = 0
        for center in sample:
            stream = keys.center_stream_key(center)
            events += int(await client.xlen(stream))
            used += int(await client.memory_usage(stream, samples=0) or 0)
    finally:
        await runner.aclose()
        await client.aclose()
    engine_t, noop_t = totals["engine"], totals["noop"]
    per_op = max(engine_t["ops"], 1)
    return {
        "centers": len(province.centers), "counters": len(stations),
        "engine_ops_per_s": round(engine_t["ops"] / engine_t["s"]),
        "noop_ops_per_s": round(noop_t["ops"] / noop_t["s"]),
        "redis_cpu_usec_per_op": round(engine_t["redis"] * 1e6 / per_op, 1),
        "client_cpu_usec_per_op": round(engine_t["client"] * 1e6 / per_op, 1),
        "noop_redis_cpu_usec_per_op": round(noop_t["redis"] * 1e6 / max(noop_t["ops"], 1), 1),
        "memory_bytes_per_center": round((configured - empty) / len(province.centers)),
        "memory_bytes_per_ticket": round((loaded - configured) / max(issued, 1)),
        "stream_bytes_per_event": round(used / max(events, 1)),
        "redis_cpu_usec_per_ticket_read": round(read_cpu * 1e6 / max(reads["read"], 1), 1),
        "tickets": issued,
    }


def centers_sweep(args: argparse.Namespace) -> list[dict[str, Any]]:
    base = load_province()
    points = []
    with tempfile.TemporaryDirectory(prefix="qms-bench-scale-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis", appendonly=False).start()
        try:
            for size in args.centers:
                points.append(asyncio.run(centers_point(server.url, cloned(base, size),
                                                        args.seconds)))
        finally:
            server.stop()
    return points


def run(args: argparse.Namespace) -> dict[str, Any]:
    from simulations.bench._scale_fanout import replicas_sweep, sockets_sweep

    load_before = os.getloadavg()[0]
    sweeps = set(args.sweeps.split(","))
    result: dict[str, Any] = {"bench": "scale"}
    if "centers" in sweeps:
        points = centers_sweep(args)
        result["centers"] = points
        last = points[-1]
        result["redis_cpu_usec_per_op_at_most_centers"] = last["redis_cpu_usec_per_op"]
        result["engine_ops_per_s_at_most_centers"] = last["engine_ops_per_s"]
        result["noop_ops_per_s_at_most_centers"] = last["noop_ops_per_s"]
        result["engine_ops_per_s_at_most_centers_ceiling"] = "noop_ops_per_s_at_most_centers"
    if "sockets" in sweeps:
        points = sockets_sweep(args)
        result["sockets"] = points
        result["server_cpu_usec_per_frame"] = points[-1]["server_cpu_usec_per_frame"]
        result["loopback_send_usec"] = points[-1]["loopback_send_usec"]
        result["server_cpu_usec_per_frame_ceiling"] = "loopback_send_usec"
        result["ws_kib_per_socket"] = points[-1]["kib_per_socket"]
    if "replicas" in sweeps:
        result["replicas"] = replicas_sweep(args)
    result["setup"] = {"seconds": args.seconds, "clients": CLIENTS, "sweeps": sorted(sweeps)}
    result["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(),
                         "loadavg_1min": [round(load_before, 2),
                                          round(os.getloadavg()[0], 2)]}
    if args.png is not None:
        from simulations.bench._scale_plot import plot_scale

        result["png"] = str(plot_scale(result, args.png))
    return result


def _sizes(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--sweeps", default="centers,sockets,replicas", help="which sweeps (default all three)")
    add("--centers", type=_sizes, default=[54, 216, 864], metavar="N,N",
        help="province sizes for the centers sweep (default 54,216,864)")
    add("--sockets", type=_sizes, default=[1000, 3000, 6000], metavar="N,N",
        help="display sockets on one center for the sockets sweep (default 1000,3000,6000)")
    add("--replicas", type=_sizes, default=[1, 2], metavar="N,N",
        help="server processes for the replicas sweep (default 1,2)")
    add("--replica-sockets", type=int, default=4000, metavar="N",
        help="display sockets over the replicas (default 4000)")
    add("--calls", type=int, default=15, help="call-next requests per point (default 15)")
    add("--png", type=Path, metavar="FILE", help="draw the sweeps into FILE")


def render(result: dict[str, Any]) -> str:
    lines = ["scale:"]
    for sweep in ("centers", "sockets", "replicas"):
        for point in result.get(sweep, []):
            lines.append(f"  {sweep:<8} " + ", ".join(
                f"{k} {v}" for k, v in point.items() if not isinstance(v, dict | list)))
    lines.append(f"  machine: {result['machine']}")
    if "png" in result:
        lines.append(f"  plot: {result['png']}")
    return "\n".join(lines)


BENCH = Benchmark(
    name="scale",
    summary="how costs grow with centers, display sockets and replicas (docs/scale.md)",
    description=__doc__ or "",
    add_arguments=add_arguments,
    run=run,
    render=render,
)
