"""``python -m counters`` against the real server, run as a user runs it (a child process),
with Redis read after each step. Center used only here: 06922 (Quảng Hà)."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from tests.conftest import stored_counter, stored_ticket
from tests.live import Bootstrap, LiveServer
from tests.servers import scaled

CENTER = "06922"   # commune: 1 certification,civil_status,results · 2 land,construction · …
PASSWORD = "matkhau123"
ROOT = Path(__file__).resolve().parent.parent


class Cli:
    def __init__(self, server: str, home: Path, client: aioredis.Redis, redis_url: str) -> None:
        self.server = server
        self.redis_url = redis_url
        self.env = {**os.environ, "XDG_CONFIG_HOME": str(home), "QMS_PASSWORD": PASSWORD}
        for name in ("QMS_TOKEN", "QMS_SERVER", "QMS_CENTER", "QMS_COUNTER"):
            self.env.pop(name, None)
        self.redis = client

    async def run(self, *args: str, code: int = 0, **env: str) -> str:
        """Run one command; return stdout (or stderr when it is expected to fail)."""
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "counters", *args], cwd=ROOT,
            env={**self.env, **env}, capture_output=True, text=True, timeout=scaled(60))
        assert done.returncode == code, (done.stdout, done.stderr)
        return done.stdout if code == 0 else done.stderr

    async def counter(self, counter: str) -> dict[str, str]:
        return await stored_counter(self.redis_url, CENTER, counter)

    async def ticket(self, ticket_id: str) -> dict[str, str]:
        return await stored_ticket(self.redis_url, CENTER, ticket_id)


@pytest.fixture
async def cli(live_server: LiveServer, tmp_path: Path) -> AsyncIterator[Cli]:
    client = aioredis.Redis.from_url(live_server.redis_url, decode_responses=True)
    yield Cli(live_server.base_url, tmp_path, client, live_server.redis_url)
    await client.aclose()


async def issue(server: LiveServer, service: str) -> dict[str, Any]:
    kiosk = await asyncio.to_thread(Bootstrap(server.redis_url).device, "kiosk", CENTER)
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        response = await http.post(f"/api/v1/centers/{CENTER}/tickets",
                                   json={"service": service},
                                   headers={"Authorization": f"Bearer {kiosk}"})
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()["ticket"]
    return ticket


async def test_a_day_on_the_command_line(cli: Cli, live_server: LiveServer,
                                         tmp_path: Path) -> None:
    await asyncio.to_thread(Bootstrap(live_server.redis_url).account, "cli_day", "staff", CENTER)
    t1, t2, t3, t4 = [await issue(live_server, s)
                      for s in ("certification", "certification", "results", "civil_status")]

    out = await cli.run("--server", cli.server, "login", "cli_day")
    assert out.startswith("Đã đăng nhập: cli_day — staff (trung tâm / center 06922)")
    token_file = tmp_path / "qms" / "token"
    assert token_file.read_text().startswith("st.")
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600

    # The server and the center come from the login from now on.
    assert "Quầy 1 đang mở, do cli_day phụ trách" in await cli.run("open", "--counter", "1")
    assert (await cli.counter("1"))["state"] == "open"
    status = await cli.run("status", "--counter", "1")
    assert "Xã Quảng Hà (06922)" in status and "Quầy 1: Đang mở / open — cli_day" in status
    assert "Chứng thực bản sao, chữ ký: 2 chờ / waiting" in status

    assert f"Mời số {t1['number']} đến quầy 1" in await cli.run("next", "--counter", "1")
    assert (await cli.counter("1"))["ticket"] == t1["id"]
    assert "Đã gọi lại số" in await cli.run("recall", "--counter", "1")
    assert (await cli.ticket(t1["id"]))["recalls"] == "1"
    assert f"Đang phục vụ số {t1['number']}" in await cli.run("start", "--counter", "1")
    assert (await cli.ticket(t1["id"]))["status"] == "serving"
    assert f"Đã hoàn thành số {t1['number']}" in await cli.run("complete", "--counter", "1")
    assert (await cli.ticket(t1["id"]))["status"] == "done"

    await cli.run("call", t3["number"], "--counter", "1")        # by its number, out of order
    assert (await cli.counter("1"))["ticket"] == t3["id"]
    assert "vắng mặt" in await cli.run("no-show", "--counter", "1")
    assert (await cli.ticket(t3["id"]))["status"] == "no_show"

    await cli.run("next", "--counter", "1")
    out = await cli.run("transfer", "--counter", "1", "--service", "land", "--to-counter", "2",
                        "--note", "Hồ sơ đất đai")
    moved = await cli.ticket(t2["id"])
    new = await cli.ticket(moved["to"])
    assert out.startswith(f"Đã chuyển số {t2['number']} sang Đất đai, quầy 2: số mới ")
    assert (moved["status"], new["service"], new["target_counter"], new["note"]) == (
        "transferred", "land", "2", "Hồ sơ đất đai")

    assert "tạm dừng: Nghỉ giải lao" in await cli.run("pause", "break", "--counter", "1")
    assert (await cli.counter("1"))["reason"] == "break"
    assert "tiếp tục làm việc" in await cli.run("resume", "--counter", "1")
    assert (await cli.counter("1"))["state"] == "open"
    day = await cli.run("day")
    assert "Đã phục vụ / served: 1" in day and "Vắng mặt / no-shows: 1" in day
    assert "Đã đóng quầy 1" in await cli.run("close", "--counter", "1")
    assert (await cli.counter("1"))["state"] == "closed"
    assert (await cli.ticket(t4["id"]))["status"] == "waiting"
    assert "Đã đăng xuất" in await cli.run("logout")
    assert not token_file.exists()


async def test_refusals_are_one_sentence_and_exit_2(cli: Cli, live_server: LiveServer) -> None:
    await asyncio.to_thread(Bootstrap(live_server.redis_url).account, "cli_no", "staff", CENTER)
    err = await cli.run("--server", cli.server, "login", "cli_no", code=2,
                        QMS_PASSWORD="wrong-password")
    assert err.count("\n") == 1 and "Sai tên đăng nhập hoặc mật khẩu" in err
    assert "Wrong username or password" in err
    err = await cli.run("--server", cli.server, "next", "--counter", "1", code=2)
    assert err.startswith("Lỗi / Error: Chưa đăng nhập")
    await cli.run("--server", cli.server, "login", "cli_no")
    err = await cli.run("next", "--counter", "3", code=2)          # not opened
    assert err.startswith("Lỗi / Error: Không thể thực hiện với trạng thái hiện tại của quầy")
    assert err.count("\n") == 1
    err = await cli.run("next", code=2)
    assert "--counter" in err
    err = await cli.run("next", "--counter", "1", code=2, QMS_TOKEN="st.not-a-token")
    assert "Phiên đăng nhập không hợp lệ" in err and "python -m counters login USER" in err
    err = await cli.run("--server", "http://127.0.0.1:9", "status", code=2)
    assert "Không kết nối được máy chủ" in err
    helped = await cli.run("--help")
    for command in ("login", "open", "next", "call", "recall", "start", "complete", "no-show",
                    "transfer", "pause", "resume", "close", "status", "day"):
        assert f"    {command}" in helped


@pytest.fixture
def lossy_proxy(live_server: LiveServer) -> Iterator[tuple[str, list[str]]]:
    """A proxy that forwards every request but loses the answer to the first call-next."""
    keys_seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.forward(None)

        def do_POST(self) -> None:
            self.forward(self.rfile.read(int(self.headers.get("Content-Length", 0))))

        def forward(self, body: bytes | None) -> None:
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            answer = httpx.request(self.command, live_server.base_url + self.path,
                                   headers=headers, content=body, timeout=10)
            if self.path.endswith("/call-next"):
                keys_seen.append(self.headers.get("Idempotency-Key", ""))
                if len(keys_seen) == 1:
                    self.close_connection = True   # acted on, but no answer reaches the client
                    return
            self.send_response(answer.status_code)
            for name in ("Content-Type", "Content-Length"):
                self.send_header(name, answer.headers[name])
            self.end_headers()
            self.wfile.write(answer.content)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", keys_seen
    server.shutdown()
    server.server_close()
    thread.join()


async def test_a_retried_action_carries_the_same_key_and_acts_once(
        cli: Cli, live_server: LiveServer, lossy_proxy: tuple[str, list[str]]) -> None:
    proxy, keys_seen = lossy_proxy
    await asyncio.to_thread(Bootstrap(live_server.redis_url).account, "cli_retry", "staff",
                            CENTER)
    tickets = [await issue(live_server, "business") for _ in range(2)]
    await cli.run("--server", proxy, "login", "cli_retry")
    await cli.run("open", "--counter", "3")
    out = await cli.run("next", "--counter", "3")
    assert f"Mời số {tickets[0]['number']} đến quầy 3" in out
    assert len(keys_seen) == 2 and keys_seen[0] == keys_seen[1] and len(keys_seen[0]) == 36
    assert (await cli.ticket(tickets[1]["id"]))["status"] == "waiting"
    assert (await cli.counter("3"))["ticket"] == tickets[0]["id"]
