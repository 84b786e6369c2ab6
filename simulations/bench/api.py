"""``api``: ticket issuance over HTTP and call-to-display latency over WebSocket, end to end.

Method (docs/benchmarks.md, "API and WebSocket fan-out", has the figures):

1. A Redis server (``EmbeddedRedis``, AOF off unless ``--aof``; or ``--redis-url``) and the
   real server in a child process: uvicorn, uvloop, httptools, one worker, no access log.
   Through the engine: a kiosk and a display device per center, every counter (274) opened
   by its own staff member.
2. HTTP, with wrk (C, one thread, ``--connections`` keep-alive connections) in its own
   process: ``GET /health/live`` (the ceiling: the same server doing nothing) and kiosk
   ``POST /api/v1/centers/{c}/tickets`` spread over every center and service, 1 in 9 with a
   statutory priority. ``--rounds`` alternating rounds of ``--seconds`` each (H I, I H, …)
   after a warm-up, so machine noise hits both. ``issue_ratio`` = issue_rps / hello_rps;
   ``issue_cpu_ratio`` = the server's CPU per hello ÷ per issue (/proc/PID/stat), the ratio
   the server would reach on a core of its own (the load generators share the machine).
3. One center, ``--sockets`` display sockets held by lean raw-socket clients
   (``_lean_ws.py``, 2,500 per process). Server memory (VmRSS, Pss) before and after they
   connect gives ``ws_kib_per_socket``. Then ``--calls`` call-next requests, one every
   ``--call-interval`` s on the center's counters in turn; half-way to the next call the
   counter starts and completes the ticket and a kiosk issues a new one (three more events
   that every display gets, but not inside a measured call's fan-out).
4. The province: ``--province-sockets`` display sockets over the 54 centers in proportion to
   population, for ``--province-seconds``: call-next at ``--peak-factor`` × a peak hour
   (Poisson arrivals on a random free counter), each followed by a kiosk issue at that center
   and, ``--serve-s`` later, start and complete.
Every frame of every socket is matched with its call by (center, stream id): the call-next
answer carries ``event_id``. Latency = client receive time − driver send time
(``time.time_ns()`` in both processes, one machine clock). The WebSocket half lives in
``_api_ws.py``; the server and its set-up in ``_api_stack.py``; wrk in ``_http_load.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import os
import platform
import random
import statistics
import tempfile
from pathlib import Path
from typing import Any

import msgpack

from queue_server.embedded import EmbeddedRedis
from queue_server.live.frames import MSGPACK, StreamEvent
from queue_server.records import EVENT_FIELDS
from simulations.bench import Benchmark
from simulations.bench._api_stack import HOST, ApiServer, CpuWatch, Stack, raise_fd_limit
from simulations.bench._api_ws import PER_PROCESS, FanOut
from simulations.bench._http_load import PostSpec, rotating_script, run_wrk, wrk_version
from simulations.bench._lean_ws import EVENT_HEAD
from simulations.bench.engine import prepare, shown_url

ISSUE_RATIO_GOAL = 0.5
KIB_GOAL = 20.0
PRIORITY_EVERY = 9


class HttpBench:
    """wrk against the server: the bare endpoint and ticket issuance, in alternating rounds."""

    def __init__(self, args: argparse.Namespace, server: ApiServer, stack: Stack,
                 redis_pid: int | None) -> None:
        self.args = args
        self.server = server
        self.stack = stack
        self.pids = {"server": server.pid, **({"redis": redis_pid} if redis_pid else {})}

    def issue_specs(self) -> list[PostSpec]:
        specs = []
        for center in self.stack.province.centers:
            services = sorted({s for counter in center.counters for s in counter.services})
            path, token = f"/api/v1/centers/{center.id}/tickets", self.stack.kiosk[center.id]
            specs += [PostSpec(path, token, {"service": s}) for s in services]
        elderly = {"priority": "elderly"}
        specs = [PostSpec(s.path, s.token, {**s.body, **elderly}) if i % PRIORITY_EVERY == 0
                 else s for i, s in enumerate(specs)]
        # Shuffled: in file order one kiosk would send eight requests in a row, all missing
        # the server's device cache together when it expires; real kiosks take turns.
        random.Random(self.args.seed).shuffle(specs)
        return specs

    def _wrk(self, kind: str, seconds: float) -> dict[str, Any]:
        base = f"http://{HOST}:{self.server.port}"
        url, script = ((base + "/health/live", None) if kind == "hello"
                       else (base + "/api/v1/centers", rotating_script(self.issue_specs())))
        watch = CpuWatch(self.pids)
        children = os.times()
        result = run_wrk(url, seconds, self.args.connections, script)
        after = os.times()
        used = watch.seconds()
        used["wrk"] = (after.children_user + after.children_system - children.children_user
                       - children.children_system)
        busy = {name: value / result.seconds for name, value in used.items()}
        busy["server_us_per_request"] = used["server"] * 1e6 / max(result.requests, 1)
        return {**result.as_dict(), "cpu_busy": {k: round(v, 2) for k, v in busy.items()}}

    def http_phase(self) -> dict[str, Any]:
        self._wrk("hello", 1.0)
        self._wrk("issue", 1.0)
        rounds: dict[str, list[dict[str, Any]]] = {"hello": [], "issue": []}
        for r in range(self.args.rounds):
            for kind in (("hello", "issue") if r % 2 == 0 else ("issue", "hello")):
                rounds[kind].append(self._wrk(kind, self.args.seconds))
        out: dict[str, Any] = {}
        for kind, runs in rounds.items():
            requests = sum(run["requests"] for run in runs)
            out[kind] = {
                "rps": round(requests / sum(run["seconds"] for run in runs)),
                "p99_ms": statistics.median(run["latency_ms"]["p99"] for run in runs),
                "p50_ms": statistics.median(run["latency_ms"]["p50"] for run in runs),
                "errors": sum(sum(run["errors"].values()) for run in runs),
                "server_cpu_us_per_request": round(statistics.median(
                    run["cpu_busy"]["server_us_per_request"] for run in runs)),
                "rounds": runs,
            }
        return out


# ---------------------------------------------------------------------- setup and reporting


def versions(redis_version: str) -> dict[str, str | None]:
    def of(package: str) -> str | None:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    found: dict[str, str | None] = {"python": platform.python_version()}
    for package in ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "websockets",
                    "redis", "hiredis", "msgpack", "pydantic"):
        found[package] = of(package)
    return {**found, "server": redis_version, "wrk": wrk_version()}


def summarize(args: argparse.Namespace, phases: dict[str, Any], extra: dict[str, Any]
              ) -> dict[str, Any]:
    out: dict[str, Any] = {"bench": "api"}
    goals: dict[str, bool] = {}
    if "http_skipped" in phases:
        goals[f"issue_ratio_at_least_{ISSUE_RATIO_GOAL}"] = False
        out["http_skipped"] = phases["http_skipped"]
    if "http" in phases:
        http = phases["http"]
        ratio = http["issue"]["rps"] / max(http["hello"]["rps"], 1)
        hello_us = http["hello"]["server_cpu_us_per_request"]
        issue_us = http["issue"]["server_cpu_us_per_request"]
        out.update(issue_rps=http["issue"]["rps"], issue_p99_ms=http["issue"]["p99_ms"],
                   hello_rps=http["hello"]["rps"], hello_p99_ms=http["hello"]["p99_ms"],
                   issue_ratio=round(ratio, 3),
                   # What the ratio would be if the server had its core to itself.
                   server_cpu_us_per_request={"hello": hello_us, "issue": issue_us},
                   issue_cpu_ratio=round(hello_us / max(issue_us, 1), 3))
        goals[f"issue_ratio_at_least_{ISSUE_RATIO_GOAL}"] = ratio >= ISSUE_RATIO_GOAL
        goals["http_without_errors"] = http["issue"]["errors"] + http["hello"]["errors"] == 0
    for name in ("center", "province"):
        if name in phases:
            phase = phases[name]
            out[f"call_to_display_{name}_p50_ms"] = phase["latency_ms"].get("p50")
            out[f"call_to_display_{name}_p99_ms"] = phase["latency_ms"].get("p99")
            out[f"{name}_frames_expected"] = phase["frames_expected"]
            out[f"{name}_frames_received"] = phase["frames_received"]
            goals[f"{name}_every_frame_received"] = (
                phase["frames_expected"] == phase["frames_received"] > 0
                and phase["empty_calls"] == 0 and not phase.get("call_errors"))
    if "center" in phases:
        kib = phases["center"]["kib_per_socket"].get("vmrss", 0.0)
        out["ws_kib_per_socket"] = kib
        goals[f"ws_kib_per_socket_at_most_{KIB_GOAL:g}"] = kib <= KIB_GOAL
    return {**out, "goals": goals, "phases": phases, **extra}


async def measure(args: argparse.Namespace, url: str, redis_pid: int | None,
                  data_dir: Path) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    server = ApiServer(url, data_dir / "server")
    stack = Stack(url, server.secret_key)
    phases: dict[str, Any] = {}
    try:
        await prepare(stack.client, args.flush or args.redis_url is None, url)
        await asyncio.to_thread(server.start)
        await stack.prepare()
        await stack.fill_queues(args.queue)
        wanted = set(args.phases.split(","))
        if "http" in wanted and wrk_version() is None:
            phases["http_skipped"] = "wrk is not installed: apt-get install -y wrk"
        elif "http" in wanted:
            http = HttpBench(args, server, stack, redis_pid)
            phases["http"] = await asyncio.to_thread(http.http_phase)
        fan_out = FanOut(args, server, stack, redis_pid)
        try:
            if "center" in wanted:
                phases["center"] = await fan_out.center_phase()
            if "province" in wanted:
                phases["province"] = await fan_out.province_phase()
        finally:
            await fan_out.aclose()
        info = await stack.client.info("server")
        redis_version = f"{info.get('server_name', 'redis')} {info['redis_version']}"
    finally:
        server.stop()
        await stack.aclose()
    setup = {
        "http_load": f"wrk, 1 thread, {args.connections} connections, own process",
        "ws_load": "lean raw-socket asyncio clients (simulations/bench/_lean_ws.py), "
                   f"{PER_PROCESS} sockets per process, separate processes",
        "server": "uvicorn qms.asgi:create --factory --loop uvloop --http httptools "
                  "--no-access-log (1 worker)",
        "redis": "embedded" if args.redis_url is None else shown_url(url),
        "aof": args.aof if args.redis_url is None else None,
        "seconds": args.seconds, "rounds": args.rounds,
        "peak_hour": f"{args.peak_calls_per_counter_hour} calls per counter per hour at every "
                     "counter (a call every 3 min: the shortest typical service), "
                     f"× {args.peak_factor:g}",
    }
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(),
               "loadavg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
               "note": "the server, Redis, wrk and the lean clients all share these cores"}
    return summarize(args, phases, {"setup": setup, "versions": versions(redis_version),
                                    "machine": machine})


def run(args: argparse.Namespace) -> dict[str, Any]:
    raise_fd_limit()
    event = msgpack.packb(["none", 0] + [None] * (len(EVENT_FIELDS) - 2))
    probe = StreamEvent("x", "1700000000000-0", event).frame(MSGPACK)
    assert isinstance(probe, bytes) and probe.startswith(EVENT_HEAD), "frame layout changed"
    with tempfile.TemporaryDirectory(prefix="qms-bench-api-") as tmp:
        if args.redis_url is not None:
            return asyncio.run(measure(args, args.redis_url, None, Path(tmp)))
        redis = EmbeddedRedis(Path(tmp) / "redis", appendonly=args.aof).start()
        try:
            return asyncio.run(measure(args, redis.url, redis.pid, Path(tmp)))
        finally:
            redis.stop()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--connections", type=int, default=64, help="wrk connections (default 64)")
    add("--rounds", type=int, default=3, help="alternating wrk rounds of each (default 3)")
    add("--sockets", type=int, default=5000, help="display sockets on one center (5000)")
    add("--calls", type=int, default=20, help="call-next requests at that center (20)")
    add("--call-interval", type=float, default=1.0, metavar="S",
        help="seconds between those calls (default 1)")
    add("--province-sockets", type=int, default=10000,
        help="display sockets over the 54 centers by population (default 10000)")
    add("--province-seconds", type=float, default=20.0, metavar="S",
        help="duration of the province calls (default 20)")
    add("--peak-calls-per-counter-hour", type=float, default=20.0, metavar="N",
        help="calls per counter in a peak hour (default 20: one every 3 minutes)")
    add("--peak-factor", type=float, default=10.0, help="times the peak hour (default 10)")
    add("--serve-s", type=float, default=1.0, metavar="S",
        help="from a province call to its start and complete (default 1)")
    add("--queue", type=int, default=10, metavar="N",
        help="tickets waiting per counter before the load starts (default 10)")
    add("--phases", default="http,center,province",
        help="which parts to run, comma-separated (default http,center,province)")
    add("--redis-url", metavar="URL", help="use this server instead of an embedded one; it "
        "must be empty unless --flush is given")
    add("--flush", action="store_true", help="allow emptying the database of --redis-url")
    add("--aof", action="store_true", help="embedded server with appendonly (default off)")
    add("--seed", type=int, default=1, help="random seed (default 1)")


def render(result: dict[str, Any]) -> str:
    lines = [f"api: {result['setup']['server']}; HTTP load {result['setup']['http_load']}; "
             f"WS load {result['setup']['ws_load']}"]
    for key, value in result.items():
        if key not in ("goals", "phases", "setup", "versions", "machine", "bench"):
            lines.append(f"  {key:<36} {value}")
    lines.append("  goals: " + ", ".join(f"{k} {'met' if v else 'NOT met'}"
                                         for k, v in result["goals"].items()))
    lines.append(f"  peak hour: {result['setup']['peak_hour']}")
    lines.append("  versions: " + ", ".join(f"{k} {v}" for k, v in result["versions"].items()))
    lines.append(f"  machine: {result['machine']}")
    return "\n".join(lines)


BENCH = Benchmark(
    name="api",
    summary="HTTP ticket issuance vs. a bare endpoint, and call-to-display latency over "
            "WebSocket with thousands of lean display clients",
    description=__doc__ or "",
    add_arguments=add_arguments,
    run=run,
    render=render,
)
