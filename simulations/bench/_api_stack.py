"""The system under test for ``simulations.bench.api``: the real server process and its setup.

``ApiServer`` runs ``uvicorn qms.asgi:create --factory`` exactly as production does
(uvloop, httptools, one worker, no access log) in a child process on free loopback ports.
``Stack`` prepares what the load needs, straight in Redis through the engine, as an operator's
command line would: a kiosk and a display device per center, every counter opened by its own
staff member (whose token the bench signs with the server's key, as a login would), and
tickets waiting so that "call next" always has someone to call.
"""

from __future__ import annotations

import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from queue_server.accounts import AccountStore
from queue_server.auth import Role, TokenSigner
from queue_server.embedded import free_port
from queue_server.engine import Engine
from queue_server.province import Center, Province, load_province
from queue_server.redis_client import RedisClient, connect
from queue_server.script_runner import ScriptRunner

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
STAFF_TOKEN_HOURS = 12


def raise_fd_limit() -> int:
    """Lift this process's open-file limit to its hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (/proc/PID/status) and Pss (/proc/PID/smaps_rollup) of a process, in KiB."""
    found: dict[str, int] = {}
    for name, key in (("status", "VmRSS:"), ("smaps_rollup", "Pss:")):
        try:
            text = Path(f"/proc/{pid}/{name}").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith(key):
                found[key.rstrip(":").lower()] = int(line.split()[1])
                break
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuWatch:
    """How busy some processes were over a span, in cores (1.0 = one core all the time)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.start = time.monotonic()
        self.before = {name: cpu_seconds(pid) for name, pid in pids.items()}

    def seconds(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) - self.before[name] for name, pid in self.pids.items()}

    def busy(self) -> dict[str, float]:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        return {name: round(used / elapsed, 2) for name, used in self.seconds().items()}


def let_archive_in(data_dir: Path) -> None:
    """The server runs its archive as deployed (an embedded PostgreSQL under the data
    folder), and PostgreSQL, never run as root, must enter the bench's own temporary folders
    (0700 from mkdtemp): they are opened to traversal (o+x), nothing else."""
    temp = Path(tempfile.gettempdir()).resolve()
    for folder in [data_dir.resolve(), *data_dir.resolve().parents]:
        if folder == temp or temp not in folder.parents:
            break
        folder.chmod(folder.stat().st_mode | 0o011)


@dataclass
class ApiServer:
    """The queue server in a child process, as ``queue_server`` runs in production."""

    redis_url: str
    data_dir: Path
    port: int = field(default_factory=free_port)
    ws_port: int = field(default_factory=free_port)
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    process: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)   # more QMS_* settings

    @property
    def pid(self) -> int:
        assert self.process is not None, "start() first"
        return self.process.pid

    def command(self) -> list[str]:
        return [sys.executable, "-m", "uvicorn", "qms.asgi:create", "--factory",
                "--host", HOST, "--port", str(self.port), "--loop", "uvloop",
                "--http", "httptools", "--no-access-log", "--log-level", "warning"]

    def start(self, timeout: float = 60.0) -> ApiServer:
        env = {**os.environ, "QMS_REDIS_URL": self.redis_url, "QMS_PORT": str(self.port),
               "QMS_WS_PORT": str(self.ws_port), "QMS_DATA_DIR": str(self.data_dir),
               "QMS_SECRET_KEY": self.secret_key, "QMS_ENFORCE_HOURS": "0",
               "QMS_LOG_LEVEL": "warning", **self.extra_env}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        let_archive_in(self.data_dir)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command(), cwd=ROOT, env=env,
                                            stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited with {self.process.returncode}:\n"
                                 f"{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}/health/ready",
                                            timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise SystemExit(f"the server was not ready within {timeout:g} s:\n{self.log_tail()}")

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@dataclass(frozen=True)
class Station:
    """One open counter, the staff member holding it and their bearer token."""

    center: str
    counter: str
    staff: str
    token: str
    services: tuple[str, ...]


class Stack:
    """What the load needs, written through the engine on the bench's own Redis client."""

    def __init__(self, redis_url: str, secret_key: str) -> None:
        self.client: RedisClient = connect(redis_url)
        self.runner = ScriptRunner(self.client)
        self.province: Province = load_province()
        self.engine = Engine(self.runner, self.province)
        self.accounts = AccountStore(self.runner)
        self.signer = TokenSigner(secret_key, STAFF_TOKEN_HOURS * 3600)
        self.kiosk: dict[str, str] = {}
        self.display: dict[str, str] = {}
        self.stations: list[Station] = []

    async def prepare(self) -> None:
        await self.runner.load()
        for center in self.province.centers:
            _, self.kiosk[center.id] = await self.accounts.create_device(
                Role.KIOSK, center.id, "bench kiosk")
            _, self.display[center.id] = await self.accounts.create_device(
                Role.DISPLAY, center.id, "bench display")
            for counter in center.counters:
                staff = f"bench-{center.id}-{counter.id}"
                await self.engine.open_counter(center.id, counter.id, staff, force=True)
                # A recorded login, as POST /auth/login makes (without Argon2's cost).
                login = await self.accounts.sessions.open(
                    staff, time.time() + STAFF_TOKEN_HOURS * 3600)
                token = self.signer.staff_token(staff, Role.STAFF, center.id, login)
                self.stations.append(Station(center.id, counter.id, staff, token,
                                             counter.services))

    def stations_of(self, center: str) -> list[Station]:
        return [s for s in self.stations if s.center == center]

    async def fill_queues(self, per_counter: int) -> None:
        """``per_counter`` waiting tickets for each counter, in the first service it serves."""
        for station in self.stations:
            for _ in range(per_counter):
                await self.engine.issue(station.center, station.services[0])

    async def aclose(self) -> None:
        await self.runner.aclose()
        await self.client.aclose()


def population_weights(province: Province) -> tuple[dict[str, float], dict[str, str]]:
    """Each center's population, with a median for a missing figure and a floor of a quarter
    of the median for an implausibly low one (island and mountain communes whose census
    figure predates the 2025 merger); and what was adjusted, for the report."""
    known = sorted(c.population for c in province.centers if c.population)
    median = float(known[len(known) // 2]) if known else 1.0
    floor = median / 4
    weights: dict[str, float] = {}
    adjusted: dict[str, str] = {}
    for center in province.centers:
        value = float(center.population or 0)
        if not center.population:
            weights[center.id] = median
            adjusted[center.id] = f"missing -> median {median:.0f}"
        elif value < floor:
            weights[center.id] = floor
            adjusted[center.id] = f"{value:.0f} -> floor {floor:.0f}"
        else:
            weights[center.id] = value
    return weights, adjusted


def spread(total: int, weights: dict[str, float]) -> dict[str, int]:
    """``total`` split in proportion to ``weights`` (largest remainder), at least 1 each."""
    whole = sum(weights.values())
    exact = {k: max(total * w / whole, 1.0) for k, w in weights.items()}
    shares = {k: int(v) for k, v in exact.items()}
    by_remainder = sorted(exact, key=lambda k: exact[k] - shares[k], reverse=True)
    for key in by_remainder[: max(total - sum(shares.values()), 0)]:
        shares[key] += 1
    return shares


def largest_center(province: Province) -> Center:
    return max(province.centers, key=lambda c: (len(c.counters), c.population or 0))
