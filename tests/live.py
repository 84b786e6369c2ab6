"""A real server for end-to-end tests: uvicorn in a child process, on free loopback ports.

``LiveServer`` runs ``uvicorn queue_server.asgi:create --factory`` against a Redis the test
suite started, so a test can stop and restart it (or run two, as replicas). ``Bootstrap``
creates accounts and device tokens directly in that Redis.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from queue_server.accounts import AccountStore
from queue_server.auth import Role, TokenSigner
from queue_server.booking import check_in_code
from queue_server.embedded import free_port
from queue_server.engine import Engine
from queue_server.keys import staff_key
from queue_server.province import load_province
from queue_server.redis_client import close, connect
from queue_server.script_runner import ScriptRunner
from tests.servers import scaled

ROOT = Path(__file__).resolve().parent.parent
SECRET = "test-secret-key-not-for-production"
METRICS_TOKEN = "test-scrape-token-not-for-production"
SCRAPE = {"Authorization": f"Bearer {METRICS_TOKEN}"}   # headers Prometheus sends


@dataclass
class LiveServer:
    redis_url: str
    data_dir: Path
    port: int = field(default_factory=free_port)
    ws_port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    def start(self, timeout: float = 30.0) -> LiveServer:
        env = {**os.environ, "QMS_REDIS_URL": self.redis_url, "QMS_PORT": str(self.port),
               "QMS_WS_PORT": str(self.ws_port), "QMS_DATA_DIR": str(self.data_dir),
               "QMS_SECRET_KEY": SECRET, "QMS_ENFORCE_HOURS": "0",
               "QMS_METRICS_TOKEN": METRICS_TOKEN,
               # No archive unless a test asks (tests/test_archive_*.py): no PostgreSQL each.
               "QMS_ARCHIVE": "0", **self.extra_env}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / f"server-{self.port}.log").open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "queue_server.asgi:create", "--factory",
                 "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
                 "--no-access-log"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}: "
                                     f"{self.log_tail()}")
            try:
                if httpx.get(self.base_url + "/health/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"server not ready in {timeout}s: {self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(scaled(10))
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> LiveServer:
        self.stop()
        return self.start()

    def log_tail(self, lines: int = 30) -> str:
        path = self.data_dir / f"server-{self.port}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class Bootstrap:
    """Accounts and devices written straight into the server's Redis (as the CLI does)."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url

    async def _run(self, coroutine_factory):  # type: ignore[no-untyped-def]
        client = connect(self.redis_url)
        try:
            runner = ScriptRunner(client, batch=False)
            await runner.load()
            return await coroutine_factory(AccountStore(runner))
        finally:
            await close(client)

    def account(self, username: str, role: str, center: str | None,
                password: str = "matkhau123") -> None:
        asyncio.run(self._run(lambda store: store.create_staff(
            username, password, username, Role(role), center)))

    def device(self, kind: str, center: str) -> str:
        _, token = asyncio.run(self._run(lambda store: store.create_device(
            Role(kind), center, "test")))
        return str(token)

    def bare_account(self, username: str, role: str, center: str | None) -> None:
        """An account record without a usable password (no Argon2): a target to manage."""
        fields = {"name": username, "role": role, "center": center or "", "hash": "",
                  "active": "1"}

        async def put(store: AccountStore) -> None:
            flat = [v for pair in fields.items() for v in pair]
            await store.runner.run("record_put", [staff_key(username)], ["1", *flat])

        asyncio.run(self._run(put))

    async def session(self, username: str, hours: int = 13) -> str:
        """A recorded login id for ``username`` (the "s" of a staff token)."""
        async def make(store: AccountStore) -> str:
            return await store.sessions.open(username, time.time() + hours * 3600)

        login_id: str = await self._run(make)
        return login_id

    async def logins(self, names: list[str], role: str, center: str | None,
                     hours: int = 1) -> list[str]:
        """Recorded logins signed as POST /auth/login signs them, without an account or a
        password check: for drivers that need many (Argon2 is slow on purpose)."""
        signer = TokenSigner(SECRET, hours * 3600)

        async def make(store: AccountStore) -> list[str]:
            sessions = [await store.sessions.open(name, time.time() + hours * 3600)
                        for name in names]
            return [signer.staff_token(name, Role(role), center, session)
                    for name, session in zip(names, sessions, strict=True)]

        tokens: list[str] = await self._run(make)
        return tokens


    def booking_today(self, center: str, service: str = "land") -> tuple[str, str]:
        """A booking of a slot a few minutes from now, straight through the engine (the
        calendar's slots are the API's to check: at night there is no slot left today),
        with the check-in code the server prints on its confirmation: (ticket id, code)."""

        async def book(store: AccountStore) -> tuple[str, str]:
            engine = Engine(store.runner, load_province())
            start = int(time.time() * 1000) + 5 * 60_000
            ticket, _ = await engine.book(center, service, (start, start + 20 * 60_000),
                                          capacity=1000)
            return ticket.id, check_in_code(TokenSigner(SECRET, 3600), ticket).code

        result: tuple[str, str] = asyncio.run(self._run(book))
        return result


def next_free_slot(base_url: str, center: str, service: str = "land") -> str:
    """The start of the first free appointment slot after today (ISO text)."""
    day = dt.date.today()
    for _ in range(30):
        day += dt.timedelta(days=1)
        answer = httpx.get(f"{base_url}/api/v1/centers/{center}/slots",
                           params={"service": service, "day": day.isoformat()}, timeout=10)
        answer.raise_for_status()
        free = [s["start"] for s in answer.json()["slots"] if s["free"] > 0]
        if free:
            return str(free[0])
    raise AssertionError(f"no free {service} slot at {center} within 30 days")


def login(server: LiveServer, username: str, password: str = "matkhau123") -> str:
    response = httpx.post(server.base_url + "/api/v1/auth/login",
                          json={"username": username, "password": password}, timeout=10)
    response.raise_for_status()
    return str(response.json()["token"])
