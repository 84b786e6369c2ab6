"""``engine``: ticket transitions per second through ``Engine``, against the client's ceiling.

Method (docs/benchmarks.md has the figures):

1. A Redis server: our own ``EmbeddedRedis`` on a free loopback port (AOF off unless
   ``--aof``), or ``--redis-url``. The default province (54 centers) is synced and every counter
   is opened by its own staff member.
2. ``--clients`` asyncio tasks (50) share one ``Engine``/``ScriptRunner``. Counters are dealt
   round-robin to the clients, so each client works counters of several centers. A client's
   cycle at one counter is issue (a service the counter serves) → call next → start →
   complete, one request in flight at a time; each cycle issues one ticket and serves at most
   one, so the queues stay bounded (``waiting_max`` reports it).
3. The ceiling: the same clients, on the same runner, call the bare ``noop`` script (one INCR
   on a key with the center's hash tag) the same way. ``ratio`` = engine ops/s ÷ noop ops/s:
   how close the engine comes to what this process can push through Redis at all.
   The two workloads alternate in rounds (E N, N E, …) so machine noise hits both alike.
4. Redis time per script: the ``INFO commandstats`` line of FCALL (EVALSHA on a Cluster)
   covers every script, so each script runs alone in its own phase — ``CONFIG RESETSTAT``, one
   call per counter, then read ``cmdstat_fcall`` and ``cmdstat_evalsha`` — over several rounds;
   ``usec`` ÷ ``calls`` over the rounds.
5. CPU per operation of the client process (``time.process_time``) and of Redis
   (``INFO cpu``) for each workload: which side is the bottleneck.
6. The projector (DESIGN.md §7: metrics, day totals and staff time derived from the events)
   runs in the same process during the engine rounds, as every replica runs it: its lag
   (stream time between each center's newest event and the last one applied) is sampled every
   0.1 s — goal: under 1 s at full bench speed. Its Redis time per event: a phase of its own
   applies the events of the per-script phases (``project.lua`` alone between CONFIG
   RESETSTAT and INFO commandstats) ÷ the events it applied.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import importlib.util
import os
import platform
import random
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from queue_server import keys
from queue_server.embedded import EmbeddedRedis
from queue_server.engine import Engine
from queue_server.projector import Projector
from queue_server.province import Province, load_province
from queue_server.redis_client import RedisClient, connect, is_cluster
from queue_server.script_runner import ScriptRunner
from simulations.bench import Benchmark

SCRIPTS = ("issue", "call_next", "start", "complete")
RATIO_GOAL = 0.6
USEC_GOAL = 30.0
LAG_GOAL_S = 1.0
LAG_SAMPLE_S = 0.1
WARMUP_S = 0.5


@dataclass(frozen=True)
class Station:
    """One open counter and the staff member working it."""

    center: str
    counter: str
    staff: str
    services: tuple[str, ...]


@dataclass
class Tally:
    """What one workload did over all its measured rounds."""

    ops: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    client_cpu_s: float = 0.0
    redis_cpu_s: float = 0.0

    @property
    def total(self) -> int:
        # "call_next_empty" counts call_next answers without a ticket: already in call_next.
        return sum(n for op, n in self.ops.items() if op != "call_next_empty")

    def summary(self) -> dict[str, Any]:
        total = max(self.total, 1)
        return {
            "ops": self.total,
            "seconds": round(self.seconds, 3),
            "ops_per_s": round(self.total / self.seconds) if self.seconds else 0,
            "by_op": dict(sorted(self.ops.items())),
            "client_cpu_usec_per_op": round(self.client_cpu_s * 1e6 / total, 1),
            "redis_cpu_usec_per_op": round(self.redis_cpu_s * 1e6 / total, 1),
            # Busy share of one core: near 1.0 means that side is the bottleneck.
            "client_cpu_busy": round(self.client_cpu_s / self.seconds, 2) if self.seconds else 0,
            "redis_cpu_busy": round(self.redis_cpu_s / self.seconds, 2) if self.seconds else 0,
        }


class Server:
    """The Redis side: INFO and CONFIG RESETSTAT on one node, or on every primary."""

    def __init__(self, client: RedisClient) -> None:
        self.client = client
        self.cluster = is_cluster(client)

    async def _per_node(self, *args: str) -> list[Any]:
        if self.cluster:
            primaries = self.client.get_primaries()
            found = await self.client.execute_command(*args, target_nodes=primaries)
            # One target node answers as such; several answer as {node name: answer}.
            return [found] if len(primaries) == 1 else list(found.values())
        return [await self.client.execute_command(*args)]

    async def info(self, section: str) -> list[dict[str, Any]]:
        return await self._per_node("INFO", section)

    async def reset_stats(self) -> None:
        await self._per_node("CONFIG", "RESETSTAT")

    async def evalsha_stats(self) -> tuple[int, int]:
        calls = usec = 0
        for node in await self.info("commandstats"):
            for command in ("cmdstat_fcall", "cmdstat_evalsha"):
                stat = node.get(command, {})
                calls += int(stat.get("calls", 0))
                usec += int(stat.get("usec", 0))
        return calls, usec

    async def cpu_seconds(self) -> float:
        return sum(float(n["used_cpu_sys"]) + float(n["used_cpu_user"])
                   for n in await self.info("cpu"))

    async def version(self) -> str:
        node = (await self.info("server"))[0]
        name = node.get("server_name", "redis")
        return f"{name} {node.get('valkey_version', node['redis_version'])}"


def stations_of(province: Province) -> list[Station]:
    return [
        Station(center.id, counter.id, f"bench-{center.id}-{counter.id}", counter.services)
        for center in province.centers for counter in center.counters
    ]


def deal(stations: list[Station], clients: int) -> list[list[Station]]:
    """Round-robin: client k gets stations k, k+clients, …, which lie in different centers."""
    return [stations[k::clients] for k in range(clients) if stations[k::clients]]


async def fan_out(calls: Iterable[Callable[[], Awaitable[Any]]], width: int) -> list[Any]:
    """Run the calls with at most ``width`` in flight, like ``width`` clients would."""
    limit = asyncio.Semaphore(width)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with limit:
            return await call()

    return await asyncio.gather(*(one(call) for call in calls))


class EngineBench:
    def __init__(self, engine: Engine, server: Server, clients: int, seed: int) -> None:
        self.engine = engine
        self.server = server
        self.stations = stations_of(engine.province)
        self.hands = deal(self.stations, clients)
        self.rngs = [random.Random(seed + k) for k in range(len(self.hands))]
        self.noop_keys = [
            # Not a key of the layout: the benchmark's own scratch key, with the center's tag.
            [keys.center_prefix(s.center) + "bench:noop" for s in hand] for hand in self.hands
        ]
        self.waiting_max = 0
        self.projector = Projector(engine.runner, engine.province)
        self.lags_ms: list[int] = []

    async def open_counters(self) -> None:
        await fan_out([
            partial(self.engine.open_counter, s.center, s.counter, s.staff, force=True)
            for s in self.stations
        ], len(self.hands))

    # ------------------------------------------------------------------ the two workloads

    async def engine_client(self, k: int, deadline: float, ops: Counter[str]) -> None:
        engine, rng, hand = self.engine, self.rngs[k], self.hands[k]
        loop = asyncio.get_running_loop()
        i = 0
        while loop.time() < deadline:
            s = hand[i % len(hand)]
            i += 1
            await engine.issue(s.center, rng.choice(s.services))
            called = await engine.call_next(s.center, s.counter, s.staff)
            ops["issue"] += 1
            ops["call_next"] += 1
            if called.ticket is None:  # another counter of the center took it
                ops["call_next_empty"] += 1
                continue
            await engine.start(s.center, s.counter, s.staff)
            await engine.complete(s.center, s.counter, s.staff)
            ops["start"] += 1
            ops["complete"] += 1

    async def noop_client(self, k: int, deadline: float, ops: Counter[str]) -> None:
        run, noop_keys = self.engine.runner.run, self.noop_keys[k]
        loop = asyncio.get_running_loop()
        i = 0
        while loop.time() < deadline:
            await run("noop", [noop_keys[i % len(noop_keys)]], ["", ""])
            i += 1
            ops["noop"] += 1

    async def sample_lag(self) -> None:
        """The projection's lag, every LAG_SAMPLE_S: how long the oldest event not yet applied
        has waited, over all centers (0 when every event is applied; stream ids are ms)."""
        client, centers = self.engine.runner.client, self.engine.province.centers
        while True:
            await asyncio.sleep(LAG_SAMPLE_S)
            pipe = client.pipeline(transaction=False)
            for c in centers:
                pipe.hget(keys.center_key(c.id, "projection"), "metrics")
            checkpoints = await pipe.execute()
            pipe = client.pipeline(transaction=False)
            for c, done in zip(centers, checkpoints, strict=True):
                pipe.xrange(keys.center_stream_key(c.id),
                            min="(" + (done or b"0-0").decode(), count=1)
            pipe.time()
            *pending, (seconds, micros) = await pipe.execute()
            now = int(seconds) * 1000 + int(micros) // 1000
            oldest = [int(found[0][0].split(b"-")[0]) for found in pending if found]
            self.lags_ms.append(max((now - ms for ms in oldest), default=0))

    async def round(self, kind: str, seconds: float, tally: Tally | None) -> None:
        client = self.engine_client if kind == "engine" else self.noop_client
        ops: Counter[str] = Counter()
        redis_cpu = await self.server.cpu_seconds()
        loop = asyncio.get_running_loop()
        side: list[asyncio.Task[None]] = []
        if kind == "engine":   # every replica projects while it serves
            side = [asyncio.create_task(self.projector.run_forever())]
            if tally is not None:
                side.append(asyncio.create_task(self.sample_lag()))
        cpu, start = time.process_time(), loop.time()
        await asyncio.gather(*(client(k, start + seconds, ops) for k in range(len(self.hands))))
        elapsed, cpu = loop.time() - start, time.process_time() - cpu
        for task in side:
            task.cancel()
        await asyncio.gather(*side, return_exceptions=True)
        redis_cpu = await self.server.cpu_seconds() - redis_cpu
        if kind == "engine":
            self.waiting_max = max(self.waiting_max, await self.waiting())
        if tally is not None:
            tally.ops.update(ops)
            tally.seconds += elapsed
            tally.client_cpu_s += cpu
            tally.redis_cpu_s += redis_cpu

    async def waiting(self) -> int:
        snaps = await fan_out([partial(self.engine.snapshot, c.id)
                               for c in self.engine.province.centers], len(self.hands))
        return sum(int(snap["totals"]["waiting"]) for snap in snaps)

    async def throughput(self, seconds: float, round_s: float) -> dict[str, Tally]:
        tallies = {"engine": Tally(), "noop": Tally()}
        await self.round("engine", WARMUP_S, None)
        await self.projector.catch_up()   # the measured rounds start with nothing behind
        await self.round("noop", WARMUP_S, None)
        rounds = max(1, round(seconds / round_s))
        for r in range(rounds):
            order = ("engine", "noop") if r % 2 == 0 else ("noop", "engine")
            for kind in order:
                await self.round(kind, seconds / rounds, tallies[kind])
        return tallies

    # ------------------------------------------------------------------ Redis time per script

    async def per_script(self, rounds: int) -> dict[str, dict[str, float]]:
        """Each script alone between CONFIG RESETSTAT and INFO commandstats, one per counter."""
        engine, width = self.engine, len(self.hands)
        sums: dict[str, list[int]] = {name: [0, 0, 0] for name in (*SCRIPTS, "noop")}

        async def phase(name: str, calls: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
            await self.server.reset_stats()
            results = await fan_out(calls, width)
            n, usec = await self.server.evalsha_stats()
            sums[name][0] += n
            sums[name][1] += usec
            sums[name][2] += len(calls)
            return results

        for r in range(rounds):
            await phase("issue", [partial(engine.issue, s.center, s.services[r % len(s.services)])
                                  for s in self.stations])
            outcomes = await phase("call_next", [
                partial(engine.call_next, s.center, s.counter, s.staff) for s in self.stations
            ])
            holding = [s for s, o in zip(self.stations, outcomes, strict=True) if o.ticket]
            await phase("start", [partial(engine.start, s.center, s.counter, s.staff)
                                  for s in holding])
            await phase("complete", [partial(engine.complete, s.center, s.counter, s.staff)
                                     for s in holding])
            await phase("noop", [partial(engine.runner.run, "noop", [key], ["", ""])
                                 for hand in self.noop_keys for key in hand])
        # The projector on the events of these phases, alone: Redis time per event applied.
        await self.server.reset_stats()
        events = await self.projector.catch_up()
        n, usec = await self.server.evalsha_stats()
        sums["project"] = [n, usec, events]
        return {
            name: {"usec_per_call": round(usec / n, 2) if n else 0.0, "calls": n,
                   "calls_sent": sent}
            for name, (n, usec, sent) in sums.items()
        }


# ---------------------------------------------------------------------- setup and reporting


def versions() -> dict[str, str | None]:
    def of(package: str) -> str | None:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {"python": platform.python_version(), "redis-py": of("redis"),
            "hiredis": of("hiredis"), "uvloop": of("uvloop")}


def shown_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"


async def prepare(client: RedisClient, flush: bool, url: str) -> None:
    size = await client.dbsize()
    if size and not flush:
        raise SystemExit(f"{shown_url(url)} holds {size} key(s); the bench writes tickets and "
                         "resets the server's stats: pass --flush to let it empty the database")
    if size and is_cluster(client):
        await client.flushall(target_nodes=client.get_primaries())
    elif size:
        await client.flushdb()


async def measure(args: argparse.Namespace, url: str) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    client = connect(url, max_connections=max(64, args.clients + 8))
    runner = ScriptRunner(client, batch=not args.no_batch, max_batch=args.max_batch,
                          max_inflight=args.max_inflight)
    try:
        await prepare(client, args.flush or args.redis_url is None, url)
        await runner.load()
        province = load_province()
        engine = Engine(runner, province)
        await engine.sync_province()
        server = Server(client)
        bench = EngineBench(engine, server, args.clients, args.seed)
        await bench.open_counters()
        tallies = await bench.throughput(args.seconds, args.round)
        scripts = await bench.per_script(args.script_rounds)
        server_version = await server.version()
    finally:
        await runner.aclose()
        await client.aclose()
    engine_ops = tallies["engine"].total / max(tallies["engine"].seconds, 1e-9)
    noop_ops = tallies["noop"].total / max(tallies["noop"].seconds, 1e-9)
    ratio = engine_ops / noop_ops if noop_ops else 0.0
    usec = {name: scripts[name]["usec_per_call"] for name in SCRIPTS}
    project = scripts["project"]
    lags = sorted(bench.lags_ms) or [0]
    lag_max_s = lags[-1] / 1000
    projector = {
        "lag_max_s": round(lag_max_s, 3),
        "lag_p99_s": round(lags[min(len(lags) - 1, int(len(lags) * 0.99))] / 1000, 3),
        "lag_samples": len(bench.lags_ms),
        "events_applied": bench.projector.progress_total(),
        "redis_usec_per_event": round(project["calls"] and project["usec_per_call"]
                                      * project["calls"] / max(project["calls_sent"], 1), 2),
        "batches": project["calls"], "conflicts": bench.projector.conflicts_total(),
    }
    return {
        "bench": "engine",
        "engine_ops_per_s": round(engine_ops),
        "noop_script_ops_per_s": round(noop_ops),
        "ratio": round(ratio, 3),
        "redis_usec_per_call": {**usec, "noop": scripts["noop"]["usec_per_call"]},
        "projector": projector,
        "goals": {
            f"ratio_at_least_{RATIO_GOAL}": ratio >= RATIO_GOAL,
            f"each_script_at_most_{USEC_GOAL:g}_usec": all(v <= USEC_GOAL for v in usec.values()),
            f"projector_lag_under_{LAG_GOAL_S:g}_s": lag_max_s < LAG_GOAL_S,
        },
        "workloads": {kind: tally.summary() for kind, tally in tallies.items()},
        "per_script_phase": scripts,
        "waiting_max": bench.waiting_max,
        "setup": {
            "seconds": args.seconds, "round_s": args.round, "clients": len(bench.hands),
            "centers": len(province.centers), "counters": len(bench.stations),
            "server": "embedded" if args.redis_url is None else shown_url(args.redis_url),
            "aof": args.aof if args.redis_url is None else None,
            "loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
            "runner": {"batch": runner.batch, "max_batch": runner.max_batch,
                       "max_inflight": runner.max_inflight},
        },
        "versions": {**versions(), "server": server_version},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    # Other processes share the cores: a high load average means noisy figures.
                    "loadavg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]},
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    def go(url: str) -> dict[str, Any]:
        factory: Callable[[], asyncio.AbstractEventLoop] | None = None
        if not args.no_uvloop and importlib.util.find_spec("uvloop") is not None:
            import uvloop

            factory = uvloop.new_event_loop
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(measure(args, url))

    if args.redis_url is not None:
        return go(args.redis_url)
    with tempfile.TemporaryDirectory(prefix="qms-bench-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis", appendonly=args.aof).start()
        try:
            return go(server.url)
        finally:
            server.stop()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--clients", type=int, default=50, help="concurrent asyncio clients (default 50)")
    add("--redis-url", metavar="URL", help="use this server (redis://, redis+sentinel://) "
        "instead of starting an embedded one; it must be empty unless --flush is given")
    add("--flush", action="store_true", help="allow emptying the database of --redis-url")
    add("--aof", action="store_true",
        help="embedded server with appendonly yes, appendfsync everysec (default: AOF off)")
    add("--no-uvloop", action="store_true", help="asyncio's loop even if uvloop is installed")
    add("--round", type=float, default=1.0, metavar="S",
        help="length of one alternating round of each workload (default 1)")
    add("--script-rounds", type=int, default=4, metavar="N",
        help="rounds of the per-script phases, one call per counter each (default 4)")
    add("--no-batch", action="store_true", help="ScriptRunner(batch=False): no pipelining")
    add("--max-batch", type=int, default=256, help="ScriptRunner max_batch (default 256)")
    add("--max-inflight", type=int, default=4, help="ScriptRunner max_inflight (default 4)")
    add("--seed", type=int, default=1, help="random seed (default 1)")


def render(result: dict[str, Any]) -> str:
    setup, work = result["setup"], result["workloads"]
    ok = {True: "met", False: "NOT met"}
    goals = list(result["goals"].values())
    lines = [
        f"engine: {setup['clients']} clients, {setup['centers']} centers, "
        f"{setup['counters']} counters, {setup['seconds']:g} s per workload, {setup['loop']}, "
        f"AOF {'on' if setup['aof'] else 'off'}, runner {setup['runner']}",
        f"  engine ops/s       {result['engine_ops_per_s']:>9,}   "
        f"(issue, call next, start, complete through Engine)",
        f"  noop script ops/s  {result['noop_script_ops_per_s']:>9,}   "
        f"(ceiling: same clients, bare script)",
        f"  ratio              {result['ratio']:>9.3f}   goal ≥ {RATIO_GOAL}: {ok[goals[0]]}",
        "  Redis µs per call  " + ", ".join(
            f"{k} {v:.1f}" for k, v in result["redis_usec_per_call"].items())
        + f"   goal ≤ {USEC_GOAL:g}: {ok[goals[1]]}",
        "  CPU µs per op      " + ", ".join(
            f"{kind}: client {w['client_cpu_usec_per_op']}, redis {w['redis_cpu_usec_per_op']}"
            for kind, w in work.items()),
        "  CPU busy (cores)   " + ", ".join(
            f"{kind}: client {w['client_cpu_busy']}, redis {w['redis_cpu_busy']}"
            for kind, w in work.items())
        + f"   load average {result['machine']['loadavg_1min']}",
        f"  waiting max        {result['waiting_max']:>9,}   (all centers, end of each round)",
        f"  projector          lag max {result['projector']['lag_max_s']} s, p99 "
        f"{result['projector']['lag_p99_s']} s   goal < {LAG_GOAL_S:g} s: {ok[goals[2]]}; "
        f"Redis {result['projector']['redis_usec_per_event']} µs per event applied",
        "  versions           " + ", ".join(f"{k} {v}" for k, v in result["versions"].items()),
    ]
    return "\n".join(lines)


BENCH = Benchmark(
    name="engine",
    summary="ticket transitions/s through Engine vs. a bare script from the same clients",
    description=__doc__ or "",
    add_arguments=add_arguments,
    run=run,
    render=render,
)
