"""Real Redis-compatible servers for the test suite: standalone, Cluster and Sentinel.

Helpers, not fixtures: each takes a temporary folder (``tmp_path``), binds 127.0.0.1 on free
ports (never 6379) and stops every process it started, also when start-up fails half-way.
Every wait is bounded by ``scaled(seconds)``; set ``QMS_TEST_TIMEOUT_SCALE`` (default 1.0) to
stretch them all on a slow machine.

URLs handed out:

* standalone: ``redis://127.0.0.1:PORT/0``
* cluster: ``redis://127.0.0.1:PORT`` (one node; ``RedisCluster.from_url`` discovers the rest)
* sentinel: ``redis+sentinel://127.0.0.1:SPORT/qms`` (see ``RedisSentinelProcesses``)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import redis

from queue_server.embedded import HOST, EmbeddedRedis, free_port

T = TypeVar("T")
CLUSTER_SLOTS = 16384
SENTINEL_SERVICE = "qms"


def scaled(seconds: float) -> float:
    """``seconds`` times ``QMS_TEST_TIMEOUT_SCALE`` (default 1.0)."""
    return seconds * float(os.environ.get("QMS_TEST_TIMEOUT_SCALE", "1.0"))


def wait_until(
    check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05
) -> T:
    """Call ``check`` until it returns something other than None/False; return that.

    Raises AssertionError naming ``what`` and the last error or value seen after
    ``scaled(timeout)`` seconds.
    """
    deadline = time.monotonic() + scaled(timeout)
    last: object = None
    while True:
        try:
            result = check()
            if result is not None and result is not False:
                return result
            last = result
        except (redis.RedisError, OSError) as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(
                f"Timed out after {scaled(timeout):g}s waiting for {what}; last: {last!r}"
            )
        time.sleep(interval)


def _client(port: int) -> redis.Redis:
    return redis.Redis(host=HOST, port=port, socket_timeout=scaled(2), decode_responses=True)


def _call(port: int, *args: Any) -> Any:
    """One command on a throw-away connection, closed at once (filterwarnings=error)."""
    with _client(port) as client:
        return client.execute_command(*args)


def start_standalone(tmp: Path, appendonly: bool = False) -> EmbeddedRedis:
    """A started single node in ``tmp/standalone``; the caller calls ``.stop()``."""
    return EmbeddedRedis(tmp / "standalone", appendonly=appendonly).start(timeout=scaled(30))


class _Group:
    """Servers started together and stopped together, in reverse order."""

    def __init__(self) -> None:
        self.servers: list[EmbeddedRedis] = []

    def _start(self, server: EmbeddedRedis) -> EmbeddedRedis:
        self.servers.append(server)
        return server.start(timeout=scaled(30))

    def start(self) -> Self:
        raise NotImplementedError

    def __enter__(self) -> Self:
        # ``with Group(...).start() as group`` must not start a second set of processes
        return self if self.servers else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop every process this group started (idempotent)."""
        for server in reversed(self.servers):
            server.stop(timeout=scaled(10))

    def _start_all(self, start: Callable[[], None]) -> None:
        try:
            start()
        except BaseException:
            self.stop()
            raise


class RedisClusterProcesses(_Group):
    """A Redis Cluster of ``masters`` masters (each with ``replicas`` replicas) on loopback.

    ``use_cli``: None creates the cluster with ``redis-cli --cluster create`` when redis-cli is
    on PATH and with CLUSTER ADDSLOTSRANGE/MEET otherwise; True/False forces one way.
    """

    def __init__(
        self, tmp: Path, masters: int = 3, replicas: int = 0, use_cli: bool | None = None
    ) -> None:
        super().__init__()
        self.tmp = tmp
        self.masters = masters
        self.replicas = replicas
        self.use_cli = shutil.which("redis-cli") is not None if use_cli is None else use_cli
        if self.use_cli and masters < 3:
            raise ValueError("redis-cli --cluster create needs at least 3 masters")

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT`` of the first node."""
        return f"redis://{HOST}:{self.servers[0].port}"

    @property
    def ports(self) -> list[int]:
        """Client ports of every node, masters first."""
        return [server.port for server in self.servers]

    def start(self) -> RedisClusterProcesses:
        """Start the nodes, form the cluster and wait until every node reports it healthy."""
        self._start_all(self._start_cluster)
        return self

    def _start_cluster(self) -> None:
        total = self.masters * (1 + self.replicas)
        for index in range(total):
            # An explicit bus port: the default PORT+10000 may be taken or exceed 65535. No
            # diskless-sync delay: Redis 7 would hold a replica's first sync for 5 s.
            extra = [
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "2000",
                "--cluster-port", str(free_port()),
                "--repl-diskless-sync-delay", "0",
                "--repl-ping-replica-period", "1",
            ]  # fmt: skip
            node = EmbeddedRedis(self.tmp / f"node{index}", appendonly=False, extra_args=extra)
            self._start(node)
        if self.use_cli:
            self._create_with_cli()
        else:
            self._create_by_hand()
        for port in self.ports:
            wait_until(partial(self._healthy, port), 30, f"cluster_state:ok on node {port}")

    def _healthy(self, port: int) -> bool:
        text = str(_call(port, "CLUSTER", "INFO"))
        info = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if not (
            info["cluster_state"] == "ok"
            and int(info["cluster_slots_ok"]) == CLUSTER_SLOTS
            and int(info["cluster_known_nodes"]) == len(self.servers)
        ):
            return False
        # Replica roles spread by gossip after the slots do, and CLUSTER SLOTS (what clients
        # read) lists a replica only once its replication offset is non-zero, which on an idle
        # master takes one replica ping (hence repl-ping-replica-period 1, not 10 s).
        ranges = _call(port, "CLUSTER", "SLOTS")
        return sum(len(entry) - 2 for entry in ranges) == self.masters * (1 + self.replicas)

    def _create_with_cli(self) -> None:
        cli = shutil.which("redis-cli") or "redis-cli"
        addresses = [f"{HOST}:{port}" for port in self.ports]
        argv = [cli, "--cluster", "create", *addresses]
        argv += ["--cluster-replicas", str(self.replicas), "--cluster-yes"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=scaled(60))
        if done.returncode != 0:
            raise AssertionError(f"redis-cli --cluster create failed:\n{done.stdout}{done.stderr}")

    def _create_by_hand(self) -> None:
        masters = self.servers[: self.masters]
        first = masters[0].port
        for index, server in enumerate(self.servers):
            # Distinct epochs up front spare the nodes a round of collision resolution.
            _call(server.port, "CLUSTER", "SET-CONFIG-EPOCH", index + 1)
        for index, server in enumerate(masters):
            low = index * CLUSTER_SLOTS // self.masters
            high = (index + 1) * CLUSTER_SLOTS // self.masters - 1
            _call(server.port, "CLUSTER", "ADDSLOTSRANGE", low, high)
        for server in self.servers[1:]:
            bus = server.extra_args[server.extra_args.index("--cluster-port") + 1]
            _call(first, "CLUSTER", "MEET", HOST, server.port, bus)
        for index, replica in enumerate(self.servers[self.masters :]):
            master_id = _call(masters[index % self.masters].port, "CLUSTER", "MYID")
            wait_until(
                partial(self._knows, replica.port, master_id),
                30,
                f"node {replica.port} to learn master {master_id}",
            )
            _call(replica.port, "CLUSTER", "REPLICATE", master_id)

    @staticmethod
    def _knows(port: int, node_id: str) -> bool:
        return node_id in str(_call(port, "CLUSTER", "NODES"))



class _SentinelServer(EmbeddedRedis):
    """``redis-server <conf> --sentinel``: sentinel rewrites its config file, so it owns one."""

    def __init__(self, data_dir: Path, master_port: int, quorum: int = 1) -> None:
        super().__init__(data_dir, appendonly=False)
        self.master_port = master_port
        self.quorum = quorum

    def command_line(self) -> list[str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir.resolve() / "sentinel.conf"
        config.write_text(
            f"sentinel monitor {SENTINEL_SERVICE} {HOST} {self.master_port} {self.quorum}\n"
            f"sentinel down-after-milliseconds {SENTINEL_SERVICE} 1000\n"
            f"sentinel failover-timeout {SENTINEL_SERVICE} 2000\n"
        )
        binary, *options = super().command_line()
        # Persistence options mean nothing to a sentinel; keep only the network and dir ones.
        keep = {"--port", "--bind", "--protected-mode", "--daemonize", "--dir"}
        pairs = [options[i : i + 2] for i in range(0, len(options), 2)]
        return [binary, str(config), "--sentinel", *[x for p in pairs if p[0] in keep for x in p]]


class RedisSentinelProcesses(_Group):
    """One master, one replica and ``sentinels`` sentinels watching them as service ``qms``.

    ``sentinel_url`` has the form ``redis+sentinel://HOST:PORT[,HOST:PORT...]/SERVICE[/DB]``:
    the sentinels to ask, then the monitored service name, then an optional database number
    (default 0). Here: ``redis+sentinel://127.0.0.1:SPORT[,…]/qms``. The sentinels fail over
    one second after the master stops answering (``down-after-milliseconds 1000``; quorum: a
    majority of them, 1 of 1 or 2 of 3). ``master_args`` go to the master (and to the
    replica, which may become one), e.g. ``min-replicas-to-write``.
    """

    def __init__(self, tmp: Path, sentinels: int = 1, master_args: Sequence[str] = ()) -> None:
        super().__init__()
        self.tmp = tmp
        self.sentinel_count = sentinels
        self.master_args = list(master_args)
        self.master: EmbeddedRedis | None = None
        self.replica: EmbeddedRedis | None = None
        self.sentinel: EmbeddedRedis | None = None
        self.sentinels: list[EmbeddedRedis] = []

    @property
    def master_port(self) -> int:
        """Port of the master that was started (not updated by a failover)."""
        assert self.master is not None, "start() first"
        return self.master.port

    @property
    def sentinel_port(self) -> int:
        assert self.sentinel is not None, "start() first"
        return self.sentinel.port

    @property
    def sentinel_url(self) -> str:
        hosts = ",".join(f"{HOST}:{sentinel.port}" for sentinel in self.sentinels)
        return f"redis+sentinel://{hosts}/{SENTINEL_SERVICE}"

    def start(self) -> RedisSentinelProcesses:
        """Start master, replica and sentinel; wait until the sentinel sees both data nodes."""
        self._start_all(self._start_sentinel)
        return self

    def _start_sentinel(self) -> None:
        # Redis 7 waits 5 s for more replicas before a diskless first sync; one is enough here.
        no_delay = ["--repl-diskless-sync-delay", "0", *self.master_args]
        self.master = self._start(
            EmbeddedRedis(self.tmp / "master", appendonly=False, extra_args=no_delay)
        )
        follow = [*no_delay, "--replicaof", HOST, str(self.master.port)]
        self.replica = self._start(
            EmbeddedRedis(self.tmp / "replica", appendonly=False, extra_args=follow)
        )
        replica_port = self.replica.port
        wait_until(
            lambda: _call(replica_port, "INFO", "replication")["master_link_status"] == "up",
            30,
            "the replica to sync with the master",
        )
        quorum = self.sentinel_count // 2 + 1
        for index in range(self.sentinel_count):
            folder = self.tmp / ("sentinel" if index == 0 else f"sentinel{index}")
            self.sentinels.append(self._start(_SentinelServer(folder, self.master.port, quorum)))
        self.sentinel = self.sentinels[0]
        wait_until(self._sentinel_ready, 30, "the sentinels to know the master, its replica "
                   "and each other")

    def _sentinel_ready(self) -> bool:
        for sentinel in self.sentinels:
            with _client(sentinel.port) as client:
                state = client.sentinel_master(SENTINEL_SERVICE)
            if int(state["port"]) != self.master_port or int(state["num-slaves"]) < 1 or \
                    int(state["num-other-sentinels"]) < self.sentinel_count - 1:
                return False
        return True

    def current_master_port(self) -> int:
        """The master port the sentinel reports right now."""
        with _client(self.sentinel_port) as client:
            _, port = client.sentinel_get_master_addr_by_name(SENTINEL_SERVICE)
        return int(port)

    def kill_master(self) -> None:
        """SIGKILL the original master, as a crash would; the sentinel then fails over."""
        assert self.master is not None, "start() first"
        self.master.kill()

    def wait_for_failover(self, timeout: float = 30) -> int:
        """Wait until the sentinel names a new master that accepts writes; return its port."""
        old = self.master_port

        def promoted() -> int | None:
            # get-master-addr-by-name names the replica as soon as it is promoted, but
            # redis-py's Sentinel also wants the master entry free of s_down/o_down, which
            # holds only after +switch-master; wait for both views to agree.
            with _client(self.sentinel_port) as client:
                state = client.sentinel_master(SENTINEL_SERVICE)
            port = int(state["port"])
            healthy = state["is_master"] and not state["is_sdown"] and not state["is_odown"]
            if port == old or not healthy:
                return None
            return port if _call(port, "ROLE")[0] == "master" else None

        return wait_until(promoted, timeout, f"the sentinel to replace master {old}")

