"""HTTP load for ``simulations.bench.api``: wrk in its own process, and a lean keep-alive client.

``run_wrk`` drives wrk (a C load generator: one thread, ``--connections`` keep-alive
connections, closed loop) with a generated Lua script. For ticket issuance the script builds
every distinct request once in ``init`` (each center with its kiosk's token, each service,
with and without a statutory priority) and cycles through them from a random start per
thread, so the requests are spread over all 54 centers and their services and wrk spends no
time formatting. ``done`` prints one JSON line that ``run_wrk`` parses.

``HttpClient`` is the driver's own client for staff actions (call next, start, complete):
raw HTTP/1.1 on kept-alive sockets, so the send time it records is the moment the request's
bytes are written, not the start of a heavier client's bookkeeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,' ..
    '"max_us":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, latency.max))
end
"""

_ROTATE = """
local specs = {%s}
local built = {}
local i = 0
init = function(args)
  for k, s in ipairs(specs) do
    built[k] = wrk.format("POST", s[1], {["Authorization"] = "Bearer " .. s[2],
      ["Content-Type"] = "application/json"}, s[3])
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
  i = math.random(#built)
end
request = function()
  i = i %% #built + 1
  return built[i]
end
"""


@dataclass(frozen=True)
class PostSpec:
    path: str
    token: str
    body: dict[str, Any]


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rotating_script(specs: Sequence[PostSpec]) -> str:
    rows = ",\n  ".join(
        "{" + ", ".join(_lua_string(x) for x in (s.path, s.token,
                                                  json.dumps(s.body, separators=(",", ":"))))
        + "}" for s in specs)
    return _ROTATE % ("\n  " + rows + "\n") + _DONE


def wrk_version() -> str | None:
    """``wrk -v`` as "4.1.0-3+b2 [epoll]" (its first line, less the name and the copyright)."""
    binary = shutil.which("wrk")
    if binary is None:
        return None
    done = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    first = ((done.stdout + done.stderr).strip().splitlines() or ["wrk"])[0]
    return first.split(" Copyright")[0].removeprefix("wrk ").removeprefix("debian/")


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    errors: dict[str, int]
    latency_us: dict[str, float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "seconds": round(self.seconds, 3),
                "rps": round(self.rps), "errors": self.errors,
                "latency_ms": {k: round(v / 1000, 2) for k, v in self.latency_us.items()}}


def run_wrk(url: str, seconds: float, connections: int, script: str | None = None,
            threads: int = 1) -> WrkResult:
    """One wrk run of ``seconds`` against ``url``; ``script`` is Lua (None: a plain GET)."""
    binary = shutil.which("wrk")
    if binary is None:
        raise SystemExit("the api benchmark drives HTTP load with wrk: apt-get install -y wrk")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script if script is not None else _DONE)
        path = Path(handle.name)
    try:
        argv = [binary, f"-t{threads}", f"-c{connections}", f"-d{max(seconds, 1):g}s",
                "--timeout", "10s", "-s", str(path), url]
        done = subprocess.run(argv, capture_output=True, text=True, check=False,
                              timeout=seconds + 60)
    finally:
        path.unlink(missing_ok=True)
    line = next((x for x in done.stdout.splitlines() if x.startswith('{"requests"')), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    data = json.loads(line)
    errors = {k: int(data[k]) for k in ("connect", "read", "write", "status", "timeout")}
    latency = {k[:-3]: float(data[k]) for k in ("p50_us", "p90_us", "p99_us", "mean_us",
                                                "max_us")}
    return WrkResult(int(data["requests"]), data["duration_us"] / 1e6, errors, latency)


class HttpError(RuntimeError):
    """An answer other than the expected status, with its body."""


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used = time.monotonic()

    async def request(self, head: bytes, body: bytes) -> tuple[int, int, bytes]:
        """Send one request; return (send time in ns, status, body)."""
        sent = time.time_ns()
        self.writer.write(head + body)
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        return sent, status, await self.reader.readexactly(length)


class HttpClient:
    """Requests on a small pool of kept-alive connections (one per request in flight).

    A connection idle for ``max_idle_s`` is dropped rather than reused: uvicorn closes idle
    ones after 5 s, and a request racing that close would be lost.
    """

    max_idle_s = 2.0

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._idle: list[_Connection] = []
        self._all: list[_Connection] = []

    async def _take(self) -> _Connection:
        while self._idle:
            connection = self._idle.pop()
            if time.monotonic() - connection.used < self.max_idle_s:
                return connection
            connection.writer.close()
            self._all.remove(connection)
        reader, writer = await asyncio.open_connection(self.host, self.port)
        connection = _Connection(reader, writer)
        self._all.append(connection)
        return connection

    async def post(self, path: str, token: str, payload: dict[str, Any] | None = None,
                   expect: int = 200) -> tuple[int, dict[str, Any]]:
        """POST JSON with a bearer token; (send time in ns, decoded answer)."""
        body = json.dumps(payload).encode() if payload is not None else b""
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        connection = await self._take()
        try:
            sent, status, answer = await connection.request(head, body)
        except BaseException:
            connection.writer.close()
            self._all.remove(connection)
            raise
        connection.used = time.monotonic()
        self._idle.append(connection)
        if status != expect:
            raise HttpError(f"POST {path}: expected {expect}, got {status}: {answer[:300]!r}")
        decoded: dict[str, Any] = json.loads(answer) if answer else {}
        return sent, decoded

    async def aclose(self) -> None:
        for connection in self._all:
            connection.writer.close()
        for connection in self._all:
            with contextlib.suppress(OSError):
                await connection.writer.wait_closed()
        self._all.clear()
        self._idle.clear()
