"""``metrics``: the cost of one ``/metrics`` scrape after a busy day, against a 250 ms goal.

Method (docs/metrics.md, "Cost of a scrape", has the figures):

1. A Redis server: our own ``EmbeddedRedis`` on a free loopback port (AOF off), or
   ``--redis-url`` (emptied first with ``--flush``). The default province (54 centers) is synced.
2. A busy day, driven through ``Engine`` (the same scripts the server runs): every counter is
   worked by a morning and an afternoon staff member, and ``--tickets`` tickets go through
   every transition: kiosk, online and appointment tickets (check-in), statutory priority,
   recalls, no-shows, transfers, cancellations, ratings, pauses with every reason, closing and
   opening. At the end some counters stay paused or closed and a few citizens wait, so every
   gauge has something to say.
3. One scrape in process, five times: the Redis read (``read_snapshots``: one snapshot per
   center, batched into pipelines), building the families, rendering the text; the median.
4. The same scrape over HTTP from a real server process (uvicorn running the app on the same
   Redis), five times: what Prometheus waits for; the median. ``--no-http`` skips it.
5. Two references measured in the same run: the bare Redis read of the 54 ``metrics`` hashes
   (one pipelined HGETALL each: the floor of any collector over this layout), and
   prometheus_client's own ``generate_latest`` on the same families (the library's renderer).

The common ``--seconds`` does not apply: the work is fixed by ``--tickets``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from prometheus_client import CollectorRegistry, generate_latest

from monitoring.collector import (
    FamiliesCollector,
    HistogramFamily,
    build_families,
    read_snapshots,
)
from monitoring.exposition import render
from queue_server import keys
from queue_server.embedded import EmbeddedRedis, free_port
from queue_server.engine import Engine
from queue_server.errors import QmsError
from queue_server.province import Center, load_province
from queue_server.province import Counter as CounterConfig
from queue_server.redis_client import RedisClient, connect, is_cluster
from queue_server.script_runner import ScriptRunner
from simulations.bench import Benchmark

GOAL_MS = 250.0
SCRAPES = 5
ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


# ---------------------------------------------------------------------- the busy day


class Day:
    """Drives one counter's day; every choice comes from its own seeded random source."""

    def __init__(self, engine: Engine, center: Center, counter: CounterConfig, tickets: int,
                 seed: int, ops: Counter[str]) -> None:
        self.engine, self.center, self.counter = engine, center, counter
        self.tickets, self.ops = tickets, ops
        self.rng = random.Random(f"{seed}-{center.id}-{counter.id}")
        self.services = engine.province.service_ids
        self.priorities = [p.id for p in engine.province.priorities]
        self.reasons = [r.id for r in engine.province.pause_reasons]

    async def act(self, name: str, call: Awaitable[T]) -> T | None:
        """One transition; a refusal (another counter took the ticket first) is counted."""
        try:
            result = await call
        except QmsError:
            self.ops[f"{name}_refused"] += 1
            return None
        self.ops[name] += 1
        return result

    async def run(self) -> None:
        engine, cid, kid = self.engine, self.center.id, self.counter.id
        for shift in ("sang", "chieu"):  # morning, afternoon
            staff = f"nv-{shift}-{cid}-{kid}".lower()
            await self.act("open", engine.open_counter(cid, kid, staff, force=True))
            for _ in range(self.tickets // 2):
                await self.ticket(staff)
                if self.rng.random() < 0.06:
                    await self.act("pause", engine.pause(cid, kid, self.rng.choice(self.reasons),
                                                         staff))
                    await self.act("resume", engine.resume(cid, kid, staff))
            if shift == "sang":
                await self.act("close", engine.close_counter(cid, kid, staff))
        # The evening picture: most counters open, some paused, some closed, a few waiting.
        last = self.rng.random()
        if last < 0.2:
            await self.act("pause", engine.pause(cid, kid, self.rng.choice(self.reasons), staff))
        elif last < 0.3:
            await self.act("close", engine.close_counter(cid, kid, staff))
        await self.act("issue", engine.issue(cid, self.rng.choice(self.counter.services)))

    async def ticket(self, staff: str) -> None:
        engine, cid, kid, rng = self.engine, self.center.id, self.counter.id, self.rng
        service = rng.choice(self.counter.services)
        kind = rng.random()
        if kind < 0.1:
            soon = int(time.time() * 1000) + 600_000
            booked = await self.act("issue", engine.book(
                cid, service, (soon, soon + 900_000), capacity=1_000_000))
            if booked is not None:
                await self.act("check_in", engine.check_in(booked[0].id))
        else:
            channel = "online" if kind < 0.25 else "kiosk"
            priority = rng.choice(self.priorities) if rng.random() < 0.12 else None
            issued = await self.act("issue", engine.issue(cid, service, channel=channel,
                                                          priority=priority))
            if issued is not None and rng.random() < 0.04:
                await self.act("cancel", engine.cancel(issued.id))
                return
        called = await self.act("call_next", engine.call_next(cid, kid, staff))
        if called is None or called.ticket is None:
            return
        if rng.random() < 0.1:
            await self.act("recall", engine.recall(cid, kid, staff))
        fate = rng.random()
        if fate < 0.05:
            await self.act("no_show", engine.no_show(cid, kid, staff))
            return
        await self.act("start", engine.start(cid, kid, staff))
        if fate < 0.1:
            others = [s for s in self.services if s != called.ticket.service]
            await self.act("transfer", engine.transfer(called.ticket.id, counter=kid, staff=staff,
                                                       to_service=rng.choice(others)))
            return
        await self.act("complete", engine.complete(cid, kid, staff))
        if rng.random() < 0.6:
            await self.act("rate", engine.rate(called.ticket.id, rng.choice((3, 4, 4, 5, 5))))


async def busy_day(engine: Engine, tickets: int, seed: int) -> Counter[str]:
    """Every counter of the province works its day at once; returns what was done."""
    stations = [(center, counter) for center in engine.province.centers
                for counter in center.counters]
    per_counter = max(2, round(tickets / len(stations)))
    ops: Counter[str] = Counter()
    await asyncio.gather(*(Day(engine, center, counter, per_counter, seed, ops).run()
                           for center, counter in stations))
    return ops


# ---------------------------------------------------------------------- measuring


async def timed(call: Callable[[], Awaitable[T]]) -> tuple[float, T]:
    start = time.perf_counter()
    result = await call()
    return (time.perf_counter() - start) * 1000, result


def median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


async def raw_read(client: RedisClient, centers: list[str]) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    for center in centers:
        pipe.hgetall(keys.center_key(center, "metrics"))
    results: list[Any] = await pipe.execute()
    return results


async def in_process(engine: Engine, scrapes: int) -> dict[str, Any]:
    province = engine.province
    read, build, write, total, library, raw = [], [], [], [], [], []
    body, samples = b"", 0
    for _ in range(scrapes):
        start = time.perf_counter()
        snapshots = await read_snapshots(engine)
        read_done = time.perf_counter()
        families = build_families(province, province.centers, snapshots)
        built = time.perf_counter()
        body = render(families)
        done = time.perf_counter()
        read.append((read_done - start) * 1000)
        build.append((built - read_done) * 1000)
        write.append((done - built) * 1000)
        total.append((done - start) * 1000)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(FamiliesCollector(families))
        start = time.perf_counter()
        reference = generate_latest(registry)
        library.append((time.perf_counter() - start) * 1000)
        if reference != body:
            raise AssertionError("render() and generate_latest() disagree")
        samples = sum(len(f.rows) * (len(f.bounds) + 3 if isinstance(f, HistogramFamily) else 1)
                      for f in families)
        ms, _ = await timed(lambda: raw_read(engine.runner.client,
                                             [c.id for c in province.centers]))
        raw.append(ms)
    return {"ms": median(total), "read_ms": median(read), "build_ms": median(build),
            "render_ms": median(write), "series": samples, "bytes": len(body),
            "generate_latest_ms": median(library), "raw_hgetall_ms": median(raw),
            "all_ms": [round(v, 1) for v in total]}


SCRAPE_TOKEN = "bench-only-scrape-token"


@contextmanager
def app_server(url: str, data_dir: Path) -> Iterator[str]:
    """The real app (uvicorn, one worker) on free ports, on the benchmark's Redis."""
    port = free_port()
    env = {**os.environ, "QMS_REDIS_URL": url, "QMS_PORT": str(port), "QMS_WS_PORT": "0",
           "QMS_DATA_DIR": str(data_dir), "QMS_SECRET_KEY": "bench-only-secret",
           "QMS_METRICS_TOKEN": SCRAPE_TOKEN, "PYTHONPATH": str(ROOT),
           "QMS_ARCHIVE": "0"}   # the scrape alone: no archiver catching up on the seeded day
    with (data_dir / "server.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "qms.asgi:create", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
             "--no-access-log"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the server exited with {process.returncode}; see "
                                 f"{data_dir / 'server.log'}")
            try:
                if httpx.get(base + "/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not become ready within 60 s")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def over_http(base: str, scrapes: int) -> dict[str, Any]:
    times, size = [], 0
    with httpx.Client(base_url=base, timeout=30,
                      headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"}) as http:
        http.get("/metrics").raise_for_status()  # warm-up: connection, first imports
        for _ in range(scrapes):
            start = time.perf_counter()
            response = http.get("/metrics")
            times.append((time.perf_counter() - start) * 1000)
            response.raise_for_status()
            size = len(response.content)
    return {"ms": median(times), "bytes": size, "all_ms": [round(v, 1) for v in times]}


# ---------------------------------------------------------------------- setup and reporting


def shown_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


async def prepare(client: RedisClient, flush: bool, url: str) -> None:
    size = await client.dbsize()
    if size and not flush:
        raise SystemExit(f"{shown_url(url)} holds {size} keys; the bench writes a whole day of "
                         "tickets: pass --flush to let it empty the database")
    if size:
        if is_cluster(client):
            await client.flushall(target_nodes=client.get_primaries())
        else:
            await client.flushdb()


async def measure(args: argparse.Namespace, url: str, data_dir: Path) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    client = connect(url)
    runner = ScriptRunner(client)
    try:
        await prepare(client, args.flush or args.redis_url is None, url)
        await runner.load()
        engine = Engine(runner, load_province())
        await engine.sync_province()
        day_s, ops = await timed(lambda: busy_day(engine, args.tickets, args.seed))
        scrape = await in_process(engine, args.scrapes)
        snapshots = await read_snapshots(engine)
    finally:
        await runner.aclose()
        await client.aclose()
    http = None
    if not args.no_http:
        with app_server(url, data_dir) as base:
            http = await asyncio.to_thread(over_http, base, args.scrapes)
    staff = {c["staff"] for s in snapshots for c in s["counters"] if c["staff"]}
    headline = http["ms"] if http else scrape["ms"]
    return {
        "bench": "metrics",
        "scrape_ms": headline,
        "goal_ms": GOAL_MS,
        "goals": {f"scrape_under_{GOAL_MS:g}_ms": headline < GOAL_MS},
        "in_process": scrape,
        "http": http,
        "day": {"tickets_issued": ops["issue"], "transitions": sum(ops.values()),
                "seconds": round(day_s / 1000, 1), "by_op": dict(sorted(ops.items())),
                "staff_at_counters_now": len(staff)},
        "setup": {"centers": len(engine.province.centers), "scrapes": args.scrapes,
                  "server": "embedded" if args.redis_url is None else shown_url(url)},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(),
                    "loadavg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]},
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="qms-bench-metrics-") as tmp:
        data_dir = Path(tmp)
        if args.redis_url is not None:
            return asyncio.run(measure(args, args.redis_url, data_dir))
        server = EmbeddedRedis(data_dir / "redis", appendonly=False).start()
        try:
            return asyncio.run(measure(args, server.url, data_dir))
        finally:
            server.stop()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tickets", type=int, default=10_000,
                        help="tickets over the day, spread over every counter (default 10000)")
    parser.add_argument("--scrapes", type=int, default=SCRAPES,
                        help=f"scrapes timed, the median is reported (default {SCRAPES})")
    parser.add_argument("--no-http", action="store_true",
                        help="time the scrape in process only, without a server process")
    parser.add_argument("--redis-url", metavar="URL",
                        help="use this server instead of starting an embedded one; it must be "
                        "empty unless --flush is given")
    parser.add_argument("--flush", action="store_true",
                        help="allow emptying the database of --redis-url first")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")


def render_result(result: dict[str, Any]) -> str:
    scrape, http, day = result["in_process"], result["http"], result["day"]
    met = "met" if all(result["goals"].values()) else "NOT met"
    lines = [
        f"metrics: one /metrics scrape after a busy day ({day['tickets_issued']:,} tickets, "
        f"{day['transitions']:,} transitions in {day['seconds']} s, "
        f"{result['setup']['centers']} centers); median of {result['setup']['scrapes']}",
        f"  series             {scrape['series']:>9,}",
        f"  bytes              {scrape['bytes']:>9,}",
    ]
    if http:
        lines.append(f"  over HTTP      {http['ms']:>9.1f} ms   goal < {GOAL_MS:g} ms: {met}   "
                     f"(all: {http['all_ms']})")
    lines += [
        f"  in process     {scrape['ms']:>9.1f} ms   = read {scrape['read_ms']} + build "
        f"{scrape['build_ms']} + render {scrape['render_ms']}   (all: {scrape['all_ms']})",
        f"  references     bare HGETALL of the 54 hashes {scrape['raw_hgetall_ms']} ms; "
        f"generate_latest on the same families {scrape['generate_latest_ms']} ms "
        f"(render: {scrape['render_ms']} ms)",
        f"  machine        {result['machine']['cpus']} CPUs, load average "
        f"{result['machine']['loadavg_1min']}",
    ]
    return "\n".join(lines)


BENCH = Benchmark(
    name="metrics",
    summary="milliseconds, series and bytes of one /metrics scrape after a busy day "
    "(goal < 250 ms)",
    description=__doc__ or "",
    add_arguments=add_arguments,
    run=run,
    render=render_result,
)

if __name__ == "__main__":  # pragma: no cover
    sys.exit("run it as: python -m simulations.bench metrics")
