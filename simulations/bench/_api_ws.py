"""The WebSocket half of ``simulations.bench.api``: display sockets, calls, and matching.

``FanOut`` opens display sockets through lean client processes (``_lean_ws.py``), drives
staff actions over HTTP (``_http_load.HttpClient``) and matches every frame every socket
received with the call that caused it, by (center, stream id): the call-next answer carries
``event_id``. Latency = client receive time − driver send time, both ``time.time_ns()`` on
one machine clock.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Sequence
from typing import Any

from simulations.bench._api_stack import (
    HOST,
    ApiServer,
    CpuWatch,
    Stack,
    Station,
    largest_center,
    memory_kib,
    population_weights,
    spread,
)
from simulations.bench._http_load import HttpClient
from simulations.bench._lean_ws import LeanClients

PER_PROCESS = 2500  # sockets per lean client process


def quantiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def q(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 2)

    return {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": round(ordered[-1], 2),
            "mean": round(statistics.fmean(ordered), 2)}


class FanOut:
    def __init__(self, args: argparse.Namespace, server: ApiServer, stack: Stack,
                 redis_pid: int | None) -> None:
        self.args = args
        self.server = server
        self.stack = stack
        self.redis_pid = redis_pid
        self.http = HttpClient(HOST, server.port)
        self.rng = random.Random(args.seed)

    def watched(self, clients: LeanClients | None = None) -> dict[str, int]:
        pids = {"server": self.server.pid}
        if self.redis_pid:
            pids["redis"] = self.redis_pid
        for k, pid in enumerate(clients.pids if clients else []):
            pids[f"client{k + 1}"] = pid
        return pids

    # ------------------------------------------------------------------ staff at a counter

    async def call(self, station: Station, sends: dict[str, int]) -> None:
        path = f"/api/v1/centers/{station.center}/counters/{station.counter}"
        sent, answer = await self.http.post(path + "/call-next", station.token)
        if answer.get("event_id") and answer.get("ticket"):
            sends[f"{station.center}|{answer['event_id']}"] = sent
        else:
            sends[f"{station.center}|empty-{len(sends)}"] = sent

    async def serve(self, station: Station) -> None:
        """The citizen is served, and a new one takes a ticket: the queue stays as it was."""
        path = f"/api/v1/centers/{station.center}/counters/{station.counter}"
        await self.http.post(path + "/start", station.token)
        await self.http.post(path + "/complete", station.token)
        await self.http.post(f"/api/v1/centers/{station.center}/tickets",
                             self.stack.kiosk[station.center],
                             {"service": station.services[0]}, expect=201)

    # ------------------------------------------------------------------ WebSocket phases

    async def connect(self, shares: dict[str, int]) -> tuple[LeanClients, int]:
        paths = [(f"/ws/display/{c}?token={self.stack.display[c]}", c, n)
                 for c, n in shares.items()]
        clients = await LeanClients.start(HOST, self.server.ws_port, paths, PER_PROCESS)
        try:
            ready = await clients.ready(timeout=300)
        except BaseException:
            await clients.kill()
            raise
        failed = sum(r["failed"] for r in ready)
        if failed:
            await clients.kill()
            raise SystemExit(f"{failed} display sockets failed to open: "
                             f"{[r['errors'] for r in ready]}")
        return clients, sum(r["ready"] for r in ready)

    @staticmethod
    def match(sends: dict[str, int], report: dict[str, Any],
              sockets: dict[str, int]) -> dict[str, Any]:
        received: dict[str, list[int]] = report["received"]
        latencies: list[float] = []
        last: list[float] = []
        expected = got = 0
        for key, sent in sends.items():
            center = key.split("|", 1)[0]
            expected += sockets[center]
            times = received.get(key, [])
            got += len(times)
            if times:
                latencies.extend((t - sent) / 1e6 for t in times)
                last.append((max(times) - sent) / 1e6)
        start = min(sends.values(), default=0)
        worst = sorted(((round((max(received[k]) - sent) / 1e6, 1), round((sent - start) / 1e9, 2))
                        for k, sent in sends.items() if received.get(k)), reverse=True)[:5]
        background: dict[str, dict[int, int]] = {"other": {}, "ping": {}}
        for key, count in report["by_second"].items():
            kind, second = key.split()
            offset = int(second) - start // 1_000_000_000
            if offset >= -1:
                background[kind][offset] = count
        return {"calls": len(sends), "frames_expected": expected, "frames_received": got,
                "latency_ms": quantiles(latencies), "last_socket_ms": quantiles(last),
                "slowest_calls": [{"last_socket_ms": ms, "at_s": at} for ms, at in worst],
                "background_frames_by_second": {k: dict(sorted(v.items()))
                                                for k, v in background.items()},
                "empty_calls": sum("|empty-" in k for k in sends),
                "other_frames": report["other_frames"], "pings": report["pings"],
                "sockets_lost": report["lost"]}

    async def center_phase(self) -> dict[str, Any]:
        center = largest_center(self.stack.province)
        stations = self.stack.stations_of(center.id)
        await asyncio.sleep(1.0)
        before = memory_kib(self.server.pid)
        started = time.monotonic()
        clients, sockets = await self.connect({center.id: self.args.sockets})
        connect_s = time.monotonic() - started
        try:
            await asyncio.sleep(2.0)
            after = memory_kib(self.server.pid)
            sends: dict[str, int] = {}
            interval = self.args.call_interval
            loop = asyncio.get_running_loop()
            watch = CpuWatch(self.watched(clients))
            for i in range(self.args.calls):
                station, start = stations[i % len(stations)], loop.time()
                await self.call(station, sends)
                await asyncio.sleep(max(0.0, start + interval / 2 - loop.time()))
                await self.serve(station)
                await asyncio.sleep(max(0.0, start + interval - loop.time()))
            busy = watch.busy()
            await asyncio.sleep(1.0)
            report = await clients.report()
        finally:
            await clients.kill()
        kib = {k: round((after[k] - before[k]) / max(sockets, 1), 2) for k in after}
        return {"center": center.id, "name": center.name, "sockets": sockets,
                "connect_s": round(connect_s, 1), "counters": len(stations),
                "call_interval_s": interval, "memory_kib_before": before,
                "memory_kib_after": after, "kib_per_socket": kib, "cpu_busy": busy,
                **self.match(sends, report, {center.id: sockets})}

    async def province_phase(self) -> dict[str, Any]:
        weights, adjusted = population_weights(self.stack.province)
        shares = spread(self.args.province_sockets, weights)
        clients, sockets = await self.connect(shares)
        stations = self.stack.stations
        rate = (len(stations) * self.args.peak_calls_per_counter_hour * self.args.peak_factor
                / 3600)
        sends: dict[str, int] = {}
        free = set(range(len(stations)))
        tasks: set[asyncio.Task[None]] = set()
        errors: list[str] = []

        async def work(index: int) -> None:
            try:
                await self.call(stations[index], sends)
                await asyncio.sleep(self.args.serve_s)
                await self.serve(stations[index])
            except Exception as error:  # counted, and the goal fails: never silently lost
                errors.append(f"{type(error).__name__}: {error}"[:200])
            finally:
                free.add(index)

        try:
            await asyncio.sleep(1.0)
            loop = asyncio.get_running_loop()
            watch = CpuWatch(self.watched(clients))
            end = loop.time() + self.args.province_seconds
            next_at = loop.time()
            skipped = 0
            while True:
                next_at += self.rng.expovariate(rate)
                if next_at >= end:
                    break
                await asyncio.sleep(max(0.0, next_at - loop.time()))
                if not free:
                    skipped += 1
                    continue
                index = self.rng.choice(sorted(free))
                free.discard(index)
                task = loop.create_task(work(index))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.gather(*tasks)
            busy = watch.busy()
            await asyncio.sleep(1.0)
            report = await clients.report()
        finally:
            await clients.kill()
        return {"sockets": sockets, "sockets_per_center": shares,
                "population_adjusted": adjusted, "calls_per_s": round(rate, 2),
                "seconds": self.args.province_seconds, "skipped_no_free_counter": skipped,
                "call_errors": errors, "cpu_busy": busy, **self.match(sends, report, shares)}

    async def aclose(self) -> None:
        await self.http.aclose()
