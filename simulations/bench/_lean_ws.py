"""A lean WebSocket load client: thousands of display sockets in one process, raw asyncio.

Why not the ``websockets`` client: at 5,000 sockets a client built on it saturates its own
core before the server does, and the latencies measured are the client's
(../shared/PERFORMANCE.md). This one is an ``asyncio.Protocol`` per socket that does only what
a listening display must: the HTTP upgrade, reading unmasked server frames, answering pings
with masked pongs and a close with a masked close. It does not decode msgpack: an event frame
starts with the fixed bytes the server writes (``queue_server.live.frames``), followed by the
stream id as a msgpack string, so the id is read at a fixed offset. Each event frame is
recorded as (center, stream id) -> receive times (``time.time_ns()`` taken when the bytes
arrive, one per socket), which the driver matches with the send time of each call.

Run as ``python -m simulations.bench._lean_ws``: it reads one JSON line (the sockets to open)
on stdin, opens them, prints ``{"ready": …}``, waits for the line ``report`` and prints
``{"received": …}`` before closing its sockets and exiting. ``LeanClients`` does this from the
driver's side, for several such processes at once.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import importlib.util
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from functools import partial
from typing import Any, cast

EVENT_HEAD = b"\x83\xa4type\xa5event\xa2id"  # {"type": "event", "id": … as frames.py packs it
_ID_AT = len(EVENT_HEAD)
OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING = 0x1, 0x2, 0x8, 0x9


def _same(socket: LeanSocket) -> LeanSocket:
    return socket


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (FIN set, masked as RFC 6455 requires), for short control payloads."""
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes((0x80 | opcode, 0x80 | len(payload))) + mask + body


class Tally:
    """What one process's sockets received."""

    def __init__(self) -> None:
        self.times: dict[bytes, list[int]] = {}
        self.other = 0  # snapshots, heartbeats, text frames
        self.pings = 0
        # Per whole second (epoch): frames that are not events, and pings; to tell whether a
        # slow call met the server's heartbeat or keepalive rounds.
        self.by_second: Counter[str] = Counter()
        self.closes = 0
        self.lost = 0   # sockets whose connection ended before the report


class LeanSocket(asyncio.Protocol):
    def __init__(self, tally: Tally, request: bytes, center: bytes,
                 first: asyncio.Future[None]) -> None:
        self.tally = tally
        self.request = request
        self.prefix = center + b"|"
        self.first = first
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.upgraded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.first.done():
            self.first.set_exception(exc or ConnectionError("closed before the first frame"))
        else:
            self.tally.lost += 1

    def _upgrade(self, data: bytes) -> bytes | None:
        """The bytes after the 101 answer, or None while it is incomplete (or refused)."""
        end = data.find(b"\r\n\r\n")
        if end < 0:
            self.buffer = data
            return None
        if not data.startswith(b"HTTP/1.1 101"):
            status = data.split(b"\r\n", 1)[0].decode(errors="replace")
            if not self.first.done():
                self.first.set_exception(ConnectionError(f"no upgrade: {status}"))
            if self.transport is not None:
                self.transport.close()
            return None
        self.upgraded = True
        return data[end + 4:]

    def data_received(self, data: bytes) -> None:
        now = time.time_ns()
        if self.buffer:
            data, self.buffer = self.buffer + data, b""
        if not self.upgraded:
            rest = self._upgrade(data)
            if rest is None:
                return
            data = rest
        size, pos = len(data), 0
        while size - pos >= 2:
            length, start = data[pos + 1] & 0x7F, pos + 2
            if length == 126:
                if size - pos < 4:
                    break
                length, start = int.from_bytes(data[pos + 2:pos + 4], "big"), pos + 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, start = int.from_bytes(data[pos + 2:pos + 10], "big"), pos + 10
            if start + length > size:
                break
            self.frame(data[pos] & 0x0F, data, start, start + length, now)
            pos = start + length
        if pos < size:
            self.buffer = data[pos:]

    def frame(self, opcode: int, data: bytes, start: int, end: int, now: int) -> None:
        if opcode == OP_BINARY and data.startswith(EVENT_HEAD, start):
            at = start + _ID_AT
            size = data[at] - 0xA0  # a fixstr: stream ids are shorter than 32 bytes
            key = self.prefix + data[at + 1:at + 1 + size]
            times = self.tally.times.get(key)
            if times is None:
                self.tally.times[key] = [now]
            else:
                times.append(now)
        elif opcode in (OP_BINARY, OP_TEXT):
            self.tally.other += 1
            self.tally.by_second[f"other {now // 1_000_000_000}"] += 1
            if not self.first.done():
                self.first.set_result(None)
        elif opcode == OP_PING:
            self.tally.pings += 1
            self.tally.by_second[f"ping {now // 1_000_000_000}"] += 1
            if self.transport is not None:
                self.transport.write(masked_frame(0xA, data[start:end]))
        elif opcode == OP_CLOSE:
            self.tally.closes += 1
            if self.transport is not None:
                self.transport.write(masked_frame(OP_CLOSE, data[start:min(end, start + 2)]))
                self.transport.close()


async def open_sockets(spec: dict[str, Any], tally: Tally) -> tuple[list[LeanSocket], Counter[str]]:
    loop = asyncio.get_running_loop()
    host, port = spec["host"], int(spec["port"])
    limit = asyncio.Semaphore(int(spec.get("concurrency", 100)))
    timeout = float(spec.get("timeout_s", 60))
    opened: list[LeanSocket] = []
    errors: Counter[str] = Counter()

    async def one(path: str, center: str) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n").encode()
        async with limit:
            for attempt in range(3):
                first: asyncio.Future[None] = loop.create_future()
                socket = LeanSocket(tally, request, center.encode(), first)
                try:
                    await loop.create_connection(partial(_same, socket), host, port)
                    await asyncio.wait_for(first, timeout)
                except (OSError, TimeoutError, ConnectionError) as error:
                    if socket.transport is not None:
                        socket.transport.abort()
                    if attempt == 2:
                        errors[f"{type(error).__name__}: {error}"[:120]] += 1
                    else:
                        await asyncio.sleep(0.2 * (attempt + 1))
                    continue
                opened.append(socket)
                return

    await asyncio.gather(*(one(path, center) for path, center, count in spec["sockets"]
                           for _ in range(int(count))))
    return opened, errors


async def serve(spec: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    tally = Tally()
    started = time.monotonic()
    sockets, errors = await open_sockets(spec, tally)
    gc.collect()
    gc.freeze()  # what exists now lives until the end: keep the collector off it
    print(json.dumps({"ready": len(sockets), "failed": sum(errors.values()),
                      "errors": dict(errors), "seconds": round(time.monotonic() - started, 2)}),
          flush=True)
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or line.strip() == "report":
            break
    print(json.dumps({
        "received": {k.decode(): v for k, v in tally.times.items()},
        "other_frames": tally.other, "pings": tally.pings, "closes": tally.closes,
        "by_second": dict(tally.by_second),
        "lost": tally.lost, "sockets": len(sockets),
    }), flush=True)
    for socket in sockets:
        if socket.transport is not None:
            socket.transport.write(masked_frame(OP_CLOSE, (1000).to_bytes(2, "big")))
            socket.transport.close()
    await asyncio.sleep(0.2)


def main() -> None:
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    spec = json.loads(sys.stdin.readline())
    if importlib.util.find_spec("uvloop") is not None:
        import uvloop

        uvloop.run(serve(spec))
    else:
        asyncio.run(serve(spec))


# ---------------------------------------------------------------------- the driver's side


def split_plan(plan: Sequence[tuple[str, str, int]], per_process: int) -> list[list[Any]]:
    """(path, center, count) rows dealt into processes of at most ``per_process`` sockets."""
    processes: list[list[Any]] = [[]]
    room = per_process
    for path, center, count in plan:
        while count > 0:
            if room == 0:
                processes.append([])
                room = per_process
            take = min(count, room)
            processes[-1].append([path, center, take])
            count -= take
            room -= take
    return [p for p in processes if p]


class LeanClients:
    """Several lean client processes, each holding part of the sockets of a plan."""

    def __init__(self, processes: list[asyncio.subprocess.Process]) -> None:
        self.processes = processes

    @classmethod
    async def start(cls, host: str, port: int, plan: Sequence[tuple[str, str, int]],
                    per_process: int, concurrency: int = 100) -> LeanClients:
        processes = []
        for part in split_plan(plan, per_process):
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "simulations.bench._lean_ws",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
            assert process.stdin is not None
            spec = {"host": host, "port": port, "sockets": part, "concurrency": concurrency}
            process.stdin.write((json.dumps(spec) + "\n").encode())
            await process.stdin.drain()
            processes.append(process)
        return cls(processes)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    async def ready(self, timeout: float) -> list[dict[str, Any]]:
        """Each process's ``ready`` line: once every socket has its first frame."""
        async def one(process: asyncio.subprocess.Process) -> dict[str, Any]:
            assert process.stdout is not None
            line = await process.stdout.readline()
            if not line:
                raise SystemExit(f"a lean client (pid {process.pid}) exited before it was "
                                 "ready; its error is above")
            answer: dict[str, Any] = json.loads(line)
            return answer

        return list(await asyncio.wait_for(asyncio.gather(*(one(p) for p in self.processes)),
                                           timeout))

    async def report(self, timeout: float = 120) -> dict[str, Any]:
        """Every process's receive times, merged by (center|stream id); the processes exit."""
        async def one(process: asyncio.subprocess.Process) -> dict[str, Any]:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(b"report\n")
            await process.stdin.drain()
            answer: dict[str, Any] = json.loads(await process.stdout.read())
            await process.wait()
            return answer

        parts = await asyncio.wait_for(asyncio.gather(*(one(p) for p in self.processes)),
                                       timeout)
        merged: dict[str, Any] = {"received": {}, "other_frames": 0, "pings": 0, "closes": 0,
                                  "lost": 0, "sockets": 0}
        by_second: Counter[str] = Counter()
        for part in parts:
            for key, times in part.pop("received").items():
                merged["received"].setdefault(key, []).extend(times)
            by_second.update(part.pop("by_second"))
            for key, value in part.items():
                merged[key] += value
        merged["by_second"] = dict(by_second)
        return merged

    async def kill(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                process.kill()
                await process.wait()


if __name__ == "__main__":
    main()
