"""``failover``: what replication delay costs when a Sentinel primary dies under load.

Method (docs/reliability.md has the figures):

1. Per cycle, a fresh set of real processes on loopback: a primary, a replica, three
   sentinels (``down-after-milliseconds 1000``), and the real app in front of them
   (``redis+sentinel://``). Settings compared: ``--modes`` ``async`` (plain asynchronous
   replication), ``wait`` (``QMS_REDIS_WAIT_REPLICAS=1``: an answer leaves once the replica
   has its writes) and ``minreplicas`` (the primary refuses writes when no replica acked
   within 1 s: ``min-replicas-to-write 1``, ``min-replicas-max-lag 1``).
2. A kiosk load (``--clients`` clients, four centers, a display socket per center) runs 1–2 s
   while the replication delay is sampled every 10 ms (the primary's offset minus the
   replica's, in bytes, turned into tickets by the bytes one ticket adds); then the primary
   is SIGKILLed and the load goes on until tickets are issued again through the new one; the
   dead node is started again once the failover is done and rejoins as a replica.
3. Every acknowledged ticket is looked up: lost (missing) or reissued (its number now another
   ticket's). The issue rate before the kill, the time to serve again and every answer that
   is neither 201 nor 503 are reported.

Run it from the repository (it uses the test suite's process helpers, tests/servers.py).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from simulations.bench import Benchmark
from simulations.bench._api_stack import ApiServer
from simulations.bench.durability import CENTERS, Tally, audit, devices, issue_forever, watch

MODES = {"async": ({}, []),
         "wait": ({"QMS_REDIS_WAIT_REPLICAS": "1"}, []),
         "minreplicas": ({}, ["--min-replicas-to-write", "1", "--min-replicas-max-lag", "1"])}


def sample_delay(primary: int, replica: int, stop: list[bool], delays: list[int]) -> None:
    """Bytes the replica is behind the primary, every 10 ms (run in a thread): each side's
    own offset, asked back to back (the primary's view of its replica is a second old)."""
    with redis.Redis(host="127.0.0.1", port=primary, socket_timeout=1) as first, \
            redis.Redis(host="127.0.0.1", port=replica, socket_timeout=1) as second:
        while not stop[0]:
            try:
                written = int(first.info("replication")["master_repl_offset"])
                applied = int(second.info("replication")["slave_repl_offset"])
            except (redis.RedisError, OSError, KeyError):
                return
            delays.append(max(0, written - applied))
            time.sleep(0.01)


async def one_cycle(mode: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    from tests.servers import RedisSentinelProcesses

    env, master_args = MODES[mode]
    with RedisSentinelProcesses(folder / "redis", sentinels=3,
                                master_args=master_args) as group:
        server = ApiServer(group.sentinel_url, folder / "app", extra_env=env)
        try:
            await asyncio.to_thread(server.start)
            kiosks, displays = await devices(group.sentinel_url)
            tally, stop = Tally(), asyncio.Event()
            base = f"http://127.0.0.1:{server.port}"
            tasks = [asyncio.create_task(issue_forever(base, kiosks, tally, stop))
                     for _ in range(args.clients)]
            tasks += [asyncio.create_task(watch(
                f"ws://127.0.0.1:{server.ws_port}/ws/display/{c}?token={displays[c]}", stop))
                for c in CENTERS]
            delays: list[int] = []
            sampling = [False]
            assert group.replica is not None
            sampler = asyncio.create_task(asyncio.to_thread(
                sample_delay, group.master_port, group.replica.port, sampling, delays))
            await asyncio.sleep(0.5)
            before, started = len(tally.issued), time.monotonic()
            info_before = await asyncio.to_thread(_offset, group.master_port)
            await asyncio.sleep(random.uniform(1.0, 2.0))
            info_after = await asyncio.to_thread(_offset, group.master_port)
            issued = len(tally.issued) - before
            rate = issued / (time.monotonic() - started)
            sampling[0] = True
            killed = time.monotonic()
            await asyncio.to_thread(group.kill_master)
            await sampler
            # as an operator would, the dead node is started again once the failover is done
            # (started earlier, empty, it would be taken back as the primary and the data
            # lost); Sentinel makes it a replica of the new one, which min-replicas-to-write
            # waits for
            rejoin = asyncio.create_task(asyncio.to_thread(_restart_later, group))
            while tally.last_ok <= killed and time.monotonic() - killed < 60:
                await asyncio.sleep(0.01)
            recovery = time.monotonic() - killed
            await rejoin
            await asyncio.sleep(0.3)
            stop.set()
            await asyncio.gather(*tasks)
            found = await audit(group.sentinel_url, server.secret_key, tally.issued)
        finally:
            server.stop()
    per_ticket = (info_after - info_before) / max(issued, 1)
    return {"rate_per_s": rate, "recovery_s": recovery, **found,
            "delay_bytes_max": max(delays, default=0),
            "delay_bytes_median": statistics.median(delays) if delays else 0,
            "bytes_per_ticket": per_ticket, "answers": dict(tally.statuses)}


def _restart_later(group: Any) -> None:
    group.wait_for_failover(60)
    group.master.start()


def _offset(port: int) -> int:
    with redis.Redis(host="127.0.0.1", port=port, socket_timeout=1) as client:
        return int(client.info("replication")["master_repl_offset"])


def run(args: argparse.Namespace) -> dict[str, Any]:
    rows = []
    for mode in args.modes:
        cycles = []
        for n in range(args.cycles):
            with tempfile.TemporaryDirectory(prefix=f"qms-failover-{mode}-{n}-") as tmp:
                cycles.append(asyncio.run(one_cycle(mode, args, Path(tmp))))
        answers: dict[str, int] = {}
        for cycle in cycles:
            for key, value in cycle["answers"].items():
                answers[key] = answers.get(key, 0) + value
        per_ticket = statistics.median(c["bytes_per_ticket"] for c in cycles)
        rows.append({
            "mode": mode, "cycles": len(cycles),
            "rate_per_s": round(statistics.median(c["rate_per_s"] for c in cycles), 1),
            "recovery_s_median": round(statistics.median(c["recovery_s"] for c in cycles), 2),
            "recovery_s_max": round(max(c["recovery_s"] for c in cycles), 2),
            "acknowledged": sum(c["acknowledged"] for c in cycles),
            "lost": sum(c["lost"] for c in cycles),
            "reissued": sum(c["reissued"] for c in cycles),
            "cycles_losing": sum(1 for c in cycles if c["lost"] + c["reissued"]),
            "delay_bytes_max": max(c["delay_bytes_max"] for c in cycles),
            "delay_tickets_max": round(max(c["delay_bytes_max"] for c in cycles)
                                       / max(per_ticket, 1), 1),
            "bytes_per_ticket": round(per_ticket),
            "answers": answers,
        })
    return {"modes": rows, "clients": args.clients}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--cycles", type=int, default=5, help="failovers per mode")
    parser.add_argument("--clients", type=int, default=8)


def render(result: dict[str, Any]) -> str:
    lines = [f"failover: Sentinel primary SIGKILLed under the app's load "
             f"({result['clients']} clients)"]
    for row in result["modes"]:
        bad = {k: v for k, v in row["answers"].items() if k not in ("201", "503")}
        lines.append(
            f"  {row['mode']:<12} {row['rate_per_s']:>6} tickets/s; {row['cycles']} failovers, "
            f"{row['cycles_losing']} lost acknowledged work ({row['lost']} lost, "
            f"{row['reissued']} reissued of {row['acknowledged']}); replica behind by at most "
            f"{row['delay_bytes_max']} B (~{row['delay_tickets_max']} tickets); serving again "
            f"after {row['recovery_s_median']} s (max {row['recovery_s_max']}); "
            f"other answers {bad or 'none'}")
    return "\n".join(lines)


BENCH = Benchmark(
    name="failover",
    summary="acknowledged tickets lost when a Sentinel primary dies under load: async "
    "replication, WAIT, min-replicas-to-write",
    description=__doc__ or "",
    add_arguments=add_arguments,
    run=run,
    render=render,
)

if __name__ == "__main__":  # pragma: no cover
    sys.exit("run it as: python -m simulations.bench failover")
