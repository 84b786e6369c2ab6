"""The sockets and replicas sweeps of ``simulations.bench.scale``: the real server, lean display
clients, call-next over HTTP, every frame matched with its call (as the ``api`` bench does)."""

from __future__ import annotations

import argparse
import asyncio
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from queue_server.embedded import EmbeddedRedis
from simulations.bench._api_stack import (
    HOST,
    ApiServer,
    CpuWatch,
    Stack,
    Station,
    largest_center,
    memory_kib,
    raise_fd_limit,
)
from simulations.bench._api_ws import PER_PROCESS, FanOut
from simulations.bench._http_load import HttpClient
from simulations.bench._lean_ws import LeanClients

FRAME_BYTES = 300  # about the size of a "called" event frame
EVENTS_PER_CALL = 4  # issued, called, started, completed: every display gets all four
CALL_INTERVAL_S = 0.5
BURST = 60  # back-to-back cycles for Redis CPU per cycle


def loopback_send_usec(pairs: int, rounds: int = 20) -> float:
    """The kernel's cost of one small TCP send over loopback (the receiver's work runs in the
    sender's system call there), per socket: the floor of any fan-out on this machine."""
    listener = socket.create_server((HOST, 0))
    port = listener.getsockname()[1]
    clients, servers = [], []
    try:
        for _ in range(pairs):
            clients.append(socket.create_connection((HOST, port)))
            servers.append(listener.accept()[0])
        for sock in clients:
            sock.setblocking(False)
        payload = b"x" * FRAME_BYTES
        spent = 0.0
        for _ in range(rounds):
            start = time.thread_time()  # CPU, as the server's figure is
            for sock in servers:
                sock.send(payload)
            spent += time.thread_time() - start
            for sock in clients:
                try:
                    while sock.recv(65536):
                        pass
                except BlockingIOError:
                    pass
        return round(spent * 1e6 / (pairs * rounds), 2)
    finally:
        for sock in clients + servers:
            sock.close()
        listener.close()


async def _redis_cpu(stack: Stack) -> float:
    """Redis's CPU seconds so far (INFO cpu: finer than /proc's clock ticks)."""
    info = await stack.client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def _counter(center: str, station: Station) -> str:
    return f"/api/v1/centers/{center}/counters/{station.counter}"


async def _issue(http: HttpClient, stack: Stack, center: str, station: Station) -> None:
    await http.post(f"/api/v1/centers/{center}/tickets", stack.kiosk[center],
                    {"service": station.services[0]}, expect=201)


async def _serve(http: HttpClient, stack: Stack, center: str, station: Station,
                 following: Station) -> None:
    """Start and complete the ticket in hand; a kiosk ticket the next counter serves."""
    await http.post(_counter(center, station) + "/start", station.token)
    await http.post(_counter(center, station) + "/complete", station.token)
    await _issue(http, stack, center, following)


async def _burst(http: HttpClient, stack: Stack, center: str, stations: list[Station],
                 cycles: int, servers: list[ApiServer], reads: dict[str, int]
                 ) -> tuple[float, float]:
    """Redis and server CPU µs per cycle (call, start, complete, issue: four HTTP requests and
    four events) back to back; Redis's idle cost over as long (its timers, the hubs' blocked
    reads) is taken off. ``reads`` gets the hubs' XREAD calls and µs (INFO commandstats)."""
    loop = asyncio.get_running_loop()
    await _issue(http, stack, center, stations[0])
    watch = CpuWatch({f"server{k}": s.pid for k, s in enumerate(servers)})
    await stack.client.config_resetstat()
    before, start = await _redis_cpu(stack), loop.time()
    for i in range(cycles):
        station = stations[i % len(stations)]
        await http.post(_counter(center, station) + "/call-next", station.token)
        await _serve(http, stack, center, station, stations[(i + 1) % len(stations)])
    busy, spent = await _redis_cpu(stack) - before, loop.time() - start
    server_s = sum(watch.seconds().values())
    stats = await stack.client.info("commandstats")
    xread = stats.get("cmdstat_xread", {})
    reads.update(calls=int(xread.get("calls", 0)), usec=int(xread.get("usec", 0)))
    idle_before = await _redis_cpu(stack)
    await asyncio.sleep(spent)
    idle = await _redis_cpu(stack) - idle_before
    return round(max(busy - idle, 0.0) * 1e6 / cycles, 1), round(server_s * 1e6 / cycles, 1)


async def _fan_out(servers: list[ApiServer], stack: Stack, sockets: int, calls: int
                   ) -> dict[str, Any]:
    """``sockets`` display sockets on the largest center, split over the servers; ``calls``
    times through the first: a kiosk ticket, call next, start, complete."""
    center = largest_center(stack.province)
    stations = stack.stations_of(center.id)
    path = f"/ws/display/{center.id}?token={stack.display[center.id]}"
    shares = [sockets // len(servers) + (1 if k < sockets % len(servers) else 0)
              for k in range(len(servers))]
    http = HttpClient(HOST, servers[0].port)
    bare_reads: dict[str, int] = {}
    bare_redis, bare_server = await _burst(http, stack, center.id, stations, BURST, servers,
                                           bare_reads)
    before = [memory_kib(s.pid) for s in servers]
    clients = [await LeanClients.start(HOST, s.ws_port, [(path, center.id, n)], PER_PROCESS)
               for s, n in zip(servers, shares, strict=True)]
    reads: dict[str, int] = {}
    try:
        for group in clients:
            await group.ready(timeout=300)
        await asyncio.sleep(2.0)
        after = [memory_kib(s.pid) for s in servers]
        pids = {f"server{k}": s.pid for k, s in enumerate(servers)}
        watch = CpuWatch(pids)
        redis_before = await _redis_cpu(stack)
        sends: dict[str, int] = {}
        await _issue(http, stack, center.id, stations[0])
        for i in range(calls):
            station = stations[i % len(stations)]
            sent, answer = await http.post(_counter(center.id, station) + "/call-next",
                                           station.token)
            sends[f"{center.id}|{answer['event_id']}"] = sent
            # The other events of the cycle half-way to the next call, outside its fan-out.
            await asyncio.sleep(CALL_INTERVAL_S / 2)
            await _serve(http, stack, center.id, station, stations[(i + 1) % len(stations)])
            await asyncio.sleep(CALL_INTERVAL_S / 2)
        used = watch.seconds()
        del redis_before
        redis_us, server_us = await _burst(http, stack, center.id, stations, BURST, servers,
                                           reads)
        await asyncio.sleep(1.0)
        reports = [await group.report() for group in clients]
    finally:
        await http.aclose()
        for group in clients:
            await group.kill()
    merged: dict[str, Any] = {"received": {}, "by_second": {}, "other_frames": 0, "pings": 0,
                              "lost": 0}
    for part in reports:
        for key, times in part["received"].items():
            merged["received"].setdefault(key, []).extend(times)
        for key in ("other_frames", "pings", "lost"):
            merged[key] += part[key]
    matched = FanOut.match(sends, merged, {center.id: sockets})
    frames = sockets * EVENTS_PER_CALL * calls
    servers_cpu = sum(v for k, v in used.items() if k.startswith("server"))
    return {
        "sockets": sockets, "replicas": len(servers), "calls": calls,
        "kib_per_socket": round(sum(a["vmrss"] - b["vmrss"] for a, b in zip(
            after, before, strict=True)) / max(sockets, 1), 2),
        "server_cpu_usec_per_frame": round(servers_cpu * 1e6 / frames, 2),
        "server_cpu_by_process_s": {k: round(v, 3) for k, v in used.items()},
        # Scripts and every replica's stream reads for one cycle (4 events), idle cost removed.
        "redis_cpu_usec_per_cycle": redis_us,
        # The servers' CPU for the same cycles: 4 requests and 4 events to every socket.
        "server_cpu_usec_per_cycle": server_us,
        # The same cycles before any socket connected: the HTTP transitions alone.
        "server_cpu_usec_per_request": round(bare_server / 4, 1),
        "redis_cpu_usec_per_cycle_no_sockets": bare_redis,
        # The hubs' stream reads, per event and per replica reading it.
        "xread_usec_per_event_per_replica": round(
            reads.get("usec", 0) / (BURST * EVENTS_PER_CALL * len(servers)), 1),
        "xread_calls_per_event": round(reads.get("calls", 0) / (BURST * EVENTS_PER_CALL), 2),
        "latency_p50_ms": matched["latency_ms"].get("p50"),
        "latency_p99_ms": matched["latency_ms"].get("p99"),
        "frames_expected": matched["frames_expected"],
        "frames_received": matched["frames_received"],
    }


async def _point(url: str, tmp: Path, replicas: int, sockets: int, calls: int
                 ) -> dict[str, Any]:
    first = ApiServer(url, tmp / "server0")
    servers = [first] + [ApiServer(url, tmp / f"server{k}", secret_key=first.secret_key)
                         for k in range(1, replicas)]
    stack = Stack(url, first.secret_key)
    try:
        await stack.client.flushall()
        for server in servers:
            await asyncio.to_thread(server.start)
        await stack.prepare()
        return await _fan_out(servers, stack, sockets, calls)
    finally:
        for server in servers:
            server.stop()
        await stack.aclose()


def _sweep(points: list[tuple[int, int]], calls: int, with_floor: bool) -> list[dict[str, Any]]:
    raise_fd_limit()
    out = []
    with tempfile.TemporaryDirectory(prefix="qms-bench-scale-ws-") as tmp:
        redis = EmbeddedRedis(Path(tmp) / "redis", appendonly=False).start()
        try:
            for replicas, sockets in points:
                point = asyncio.run(_point(redis.url, Path(tmp), replicas, sockets, calls))
                if with_floor:
                    point["loopback_send_usec"] = loopback_send_usec(min(sockets, 1000))
                out.append(point)
        finally:
            redis.stop()
    return out


def sockets_sweep(args: argparse.Namespace) -> list[dict[str, Any]]:
    return _sweep([(1, n) for n in args.sockets], args.calls, with_floor=True)


def replicas_sweep(args: argparse.Namespace) -> list[dict[str, Any]]:
    return _sweep([(r, args.replica_sockets) for r in args.replicas], args.calls,
                  with_floor=False)
