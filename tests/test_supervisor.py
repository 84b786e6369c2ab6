"""The embedded default heals: the Redis child killed under load is restarted from its AOF
and nothing acknowledged is lost, the archive's PostgreSQL child killed is restarted and the
archive catches up; every stop signal stops everything the app started; a server left on the
data folder is adopted only when provably its own.

Real processes throughout: ``python -m qms run`` and ``uvicorn … --factory`` with no
``QMS_REDIS_URL``, their Redis child killed with SIGKILL or hung with SIGSTOP.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from queue_server.embedded import EmbeddedRedis, EmbeddedServerError, free_port, pid_alive
from queue_server.embedded_postgres import running_database_url
from queue_server.postgres_child import postmaster_pid
from queue_server.redis_child import OwnerRecord, RedisChild, open_embedded, running_server_url
from queue_server.supervisor import Health, Supervisor
from tests.archive_support import postgres_folder
from tests.faults import IssueLoad, audit
from tests.live import METRICS_TOKEN, ROOT, SECRET, Bootstrap, LiveServer
from tests.servers import scaled, wait_until

CENTERS = ("07081", "06712")


@dataclass
class RunProcess:
    """``python -m qms run`` on its own data folder and ports."""

    data_dir: Path
    port: int
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, data_dir: Path) -> RunProcess:
        port = free_port()
        env = {**os.environ, "QMS_DATA_DIR": str(data_dir), "QMS_PORT": str(port),
               "QMS_WS_PORT": str(free_port()), "QMS_SECRET_KEY": SECRET,
               "QMS_METRICS_TOKEN": METRICS_TOKEN, "QMS_ENFORCE_HOURS": "0"}
        env.pop("QMS_REDIS_URL", None)
        data_dir.mkdir(parents=True, exist_ok=True)
        with (data_dir / "run.log").open("ab") as log:
            process = subprocess.Popen([sys.executable, "-m", "qms", "run"], cwd=ROOT,
                                       env=env, stdout=log, stderr=subprocess.STDOUT)
        run = cls(data_dir, port, process)
        wait_until(run.ready, 30, "python -m qms run to be ready")
        return run

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"run exited with {self.process.returncode}: {self.log()}")
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/health/ready",
                             timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def log(self) -> str:
        return (self.data_dir / "run.log").read_text(errors="replace")

    @property
    def redis(self) -> OwnerRecord:
        record = OwnerRecord.read(self.data_dir / "redis")
        assert record is not None, self.log()
        return record

    @property
    def postgres(self) -> int:
        pid = postmaster_pid(self.data_dir / "postgres")
        assert pid is not None, self.log()
        return pid

    def end(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        record = OwnerRecord.read(self.data_dir / "redis")
        if record is not None and pid_alive(record.pid):
            os.kill(record.pid, signal.SIGKILL)
        if (postgres := postmaster_pid(self.data_dir / "postgres")) is not None:
            os.kill(postgres, signal.SIGKILL)


@pytest.fixture
def data_root() -> Iterator[Path]:
    """A folder the archive's PostgreSQL (not run as root) can enter, unlike pytest's."""
    folder = postgres_folder()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def runs() -> Iterator[list[RunProcess]]:
    """Every RunProcess a test starts, ended (with its Redis and PostgreSQL) whatever
    happens."""
    started: list[RunProcess] = []
    yield started
    for run in started:
        run.end()


async def test_the_embedded_redis_killed_under_load_comes_back_with_everything(
        tmp_path: Path) -> None:
    server = await asyncio.to_thread(LiveServer("", tmp_path / "app").start)  # no Redis URL
    try:
        url = running_server_url(tmp_path / "app" / "redis")
        assert url is not None
        boot = Bootstrap(url)
        kiosks = {c: await asyncio.to_thread(boot.device, "kiosk", c) for c in CENTERS}
        load = IssueLoad(server.base_url, kiosks).start()
        await asyncio.sleep(0.5)
        first = OwnerRecord.read(tmp_path / "app" / "redis")
        assert first is not None and len(load.issued) > 0
        killed = time.monotonic()
        os.kill(first.pid, signal.SIGKILL)
        recovery = await load.served_since(killed, 10)
        await asyncio.sleep(0.3)
        await load.stop()
        again = OwnerRecord.read(tmp_path / "app" / "redis")
        assert again is not None and again.pid != first.pid and again.port == first.port
        assert load.unexpected() == {}, load.statuses      # only 201 and 503 on the way
        assert load.missing_retry_after == 0
        assert recovery < scaled(5)
        # appendfsync always (the embedded default): every acknowledged ticket survived
        assert await audit(url, load.issued) == {"lost": [], "reissued": []}
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            ready = await http.get("/health/ready")
            assert ready.status_code == 200, ready.text
        assert "redis is down: restarting it" in server.log_tail(200)
    finally:
        server.stop()
    assert running_server_url(tmp_path / "app" / "redis") is None   # stopped with the app


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP], ids=["SIGINT", "SIGHUP"])
def test_every_stop_signal_stops_the_app_and_then_its_servers(data_root: Path, sig: int,
                                                              runs: list[RunProcess]) -> None:
    run = RunProcess.start(data_root / "data")
    runs.append(run)
    redis_pid, postgres_pid = run.redis.pid, run.postgres
    run.process.send_signal(sig)
    run.process.wait(scaled(20))
    assert not pid_alive(redis_pid), run.log()
    assert not pid_alive(postgres_pid), run.log()
    assert OwnerRecord.read(data_root / "data" / "redis") is None
    log = run.log()
    # in order: the archive's PostgreSQL (after its pool) within uvicorn's graceful shutdown,
    # then the Redis the app started
    assert log.index("Stopped the embedded PostgreSQL") < log.index(
        "Application shutdown complete") < log.index("Stopped the embedded Redis"), log
    assert "Traceback" not in log, log


def test_sighup_stops_the_uvicorn_factory_and_its_redis(tmp_path: Path) -> None:
    server = LiveServer("", tmp_path / "app").start()
    try:
        record = OwnerRecord.read(tmp_path / "app" / "redis")
        assert record is not None and server.process is not None
        server.process.send_signal(signal.SIGHUP)
        server.process.wait(scaled(20))
        assert not pid_alive(record.pid), server.log_tail()
    finally:
        server.stop()


def test_a_server_left_running_is_adopted_when_provably_ours(data_root: Path,
                                                             runs: list[RunProcess]) -> None:
    first = RunProcess.start(data_root / "data")
    runs.append(first)
    orphan, orphan_postgres = first.redis, first.postgres
    first.process.kill()        # the app dies without stopping its Redis and PostgreSQL
    first.process.wait()
    assert pid_alive(orphan.pid) and pid_alive(orphan_postgres)
    second = RunProcess.start(data_root / "data")
    runs.append(second)
    assert second.redis.pid == orphan.pid                       # adopted, not started again
    assert f"Adopted the embedded Redis left running on {data_root / 'data' / 'redis'} " \
           f"(pid {orphan.pid}" in second.log()
    assert "adopted: left running on this folder by an earlier start" in second.log()
    # PostgreSQL, provably ours, is shut down fast and started again as a supervised child
    assert f"Took over the embedded PostgreSQL left running on {data_root / 'data' / 'postgres'}" \
           f" (pid {orphan_postgres})" in second.log()
    postgres = second.postgres
    assert postgres != orphan_postgres and not pid_alive(orphan_postgres)
    second.process.send_signal(signal.SIGTERM)    # what systemd and Docker send: it stops
    second.process.wait(scaled(20))               # the app, then the servers it adopted
    assert not pid_alive(orphan.pid) and not pid_alive(postgres)
    assert OwnerRecord.read(data_root / "data" / "redis") is None
    log = second.log()
    assert log.index("Application shutdown complete") < log.index(
        "Stopped the embedded Redis"), log
    assert "Traceback" not in log, log


def test_the_archives_postgres_killed_is_restarted_and_the_archive_catches_up(
        data_root: Path, runs: list[RunProcess]) -> None:
    run = RunProcess.start(data_root / "data")
    runs.append(run)
    redis_url = running_server_url(data_root / "data" / "redis")
    assert redis_url is not None
    kiosk = Bootstrap(redis_url).device("kiosk", CENTERS[0])
    crashed = run.postgres
    os.kill(crashed, signal.SIGKILL)           # a crash: the backends follow their postmaster
    issued = []
    with httpx.Client(base_url=f"http://127.0.0.1:{run.port}", timeout=10) as http:
        for _ in range(5):                     # tickets need only Redis: served throughout
            answer = http.post(f"/api/v1/centers/{CENTERS[0]}/tickets", json={"service": "land"},
                               headers={"Authorization": f"Bearer {kiosk}"})
            assert answer.status_code == 201, answer.text
            issued.append(answer.json()["ticket"]["id"])
    folder = run.data_dir / "postgres"
    wait_until(lambda: postmaster_pid(folder) not in (None, crashed) and
               running_database_url(folder) is not None,
               scaled(30), "the archive's PostgreSQL restarted")
    database = running_database_url(folder)
    assert database is not None

    def archived() -> bool:
        import psycopg

        try:
            with psycopg.connect(database, connect_timeout=2) as conn:
                rows = conn.execute("SELECT id FROM tickets WHERE id = ANY(%s)",
                                    (issued,)).fetchall()
        except psycopg.Error:
            return False
        return len(rows) == len(issued)

    wait_until(archived, scaled(30), "the tickets issued meanwhile archived")
    assert "postgresql is down: restarting it from its files" in run.log()
    assert "Traceback" not in run.log(), run.log()


def test_a_server_on_the_folder_that_is_not_ours_stops_the_start(tmp_path: Path) -> None:
    folder = tmp_path / "redis"
    stranger = EmbeddedRedis(folder).start()      # no secret, no record: not ours
    try:
        with pytest.raises(EmbeddedServerError) as refused:
            open_embedded(folder)
        assert f"pid {stranger.pid}" in str(refused.value)
        assert "not the one this queue server started" in str(refused.value)
    finally:
        stranger.stop()


def test_a_hung_redis_is_killed_and_restarted(tmp_path: Path) -> None:
    child = RedisChild(tmp_path / "redis")
    supervisor = Supervisor([child], hung_after_s=0.5).start()
    try:
        assert child.server is not None and child.server.pid is not None
        hung = child.server.pid
        os.kill(hung, signal.SIGSTOP)          # alive, answering nothing
        wait_until(lambda: supervisor.restarts["redis"] == 1, 10, "the hung Redis restarted")
        assert not pid_alive(hung)
        assert child.health() is Health.UP
    finally:
        supervisor.stop()
