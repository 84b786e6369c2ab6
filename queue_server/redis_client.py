"""Connecting to Redis from a URL: a node, Sentinel or a Cluster, with the same client API.

- ``redis://host:port/db`` or ``rediss://…``: one node;
- ``redis+sentinel://host:port[,host:port…]/service_name[/db]``: the master that Sentinel names;
- ``redis+cluster://host:port[,host:port…]``: a Redis Cluster (any node; the rest is discovered).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialWithJitterBackoff

from queue_server.errors import ConfigError

RedisClient = Any  # redis.asyncio.Redis or RedisCluster: the same command surface
OnConnect = Callable[[Any], Awaitable[None]]
# No answer within this long is an outage (a 503), never a request that hangs: a stopped or
# swamped Redis answers nothing and refuses nothing. Far above any script's time (< 10 ms) and
# the hub's XREAD BLOCK (0.25 s).
SOCKET_TIMEOUT_S = 3.0


def read_retry() -> Retry:
    """For clients that only read (the hub): a dropped connection is retried three times
    within ~0.5 s. Never for the scripts' client: a transition sent and then cut off may have
    run, and sending it again would act twice (ScriptRunner retries only what is safe)."""
    return Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.25), 3)


def _hosts(netloc: str, url: str) -> list[tuple[str, int]]:
    hosts = []
    for part in netloc.split(","):
        host, _, port = part.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"Redis URL {url!r}: expected host:port, got {part!r}", key="url")
        hosts.append((host.strip("[]"), int(port)))
    return hosts


# A command that finds every connection of the pool busy waits this long for one, rather than
# failing at once: thousands of lobby screens reconnecting after a restart make such bursts.
POOL_WAIT_S = 5.0


def connect(url: str, *, max_connections: int = 64, retry: Retry | None = None,
            on_connect: OnConnect | None = None) -> RedisClient:
    """A client for the URL; nothing is sent until the first command. ``retry``: redis-py's
    retry of a command whose connection failed, for clients whose commands are all safe to
    send twice (see read_retry). ``on_connect(connection)`` replaces redis-py's handshake on
    every new connection, and must call ``connection.on_connect()`` (see high_water.py)."""
    parts = urlsplit(url)
    options: dict[str, Any] = {"socket_connect_timeout": 2.0, "health_check_interval": 15,
                               "socket_timeout": SOCKET_TIMEOUT_S}
    if retry is not None:
        options["retry"] = retry
    if on_connect is not None:
        options["redis_connect_func"] = on_connect
    if parts.scheme in ("redis", "rediss", "unix"):
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=POOL_WAIT_S, **options)
        return aioredis.Redis.from_pool(pool)
    if parts.scheme == "redis+cluster":
        nodes = [ClusterNode(host, port) for host, port in _hosts(parts.netloc, url)]
        hook: dict[str, Any] = {} if on_connect is None else {"redis_connect_func": on_connect}
        return RedisCluster(startup_nodes=nodes, max_connections=max_connections,
                            socket_connect_timeout=2.0, socket_timeout=SOCKET_TIMEOUT_S, **hook)
    if parts.scheme == "redis+sentinel":
        path = [p for p in parts.path.split("/") if p]
        if not path:
            raise ConfigError(f"Redis URL {url!r}: expected /service_name after the sentinels",
                              key="url")
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            _hosts(parts.netloc, url), socket_connect_timeout=2.0,
            socket_timeout=SOCKET_TIMEOUT_S)
        db = int(path[1]) if len(path) > 1 else 0
        extra: dict[str, Any] = {} if retry is None else {"retry": retry}
        if on_connect is not None:
            extra["redis_connect_func"] = on_connect
        client = sentinel.master_for(path[0], db=db, max_connections=max_connections, **extra)
        client.qms_sentinels = sentinel.sentinels  # closed with it, see close()
        return client
    raise ConfigError(
        f"Redis URL {url!r}: expected redis://, rediss://, redis+sentinel:// or redis+cluster://",
        key="url",
    )


async def close(client: RedisClient) -> None:
    """Close a client and, under Sentinel, its connections to the sentinels too."""
    await client.aclose()
    for sentinel in getattr(client, "qms_sentinels", ()):
        await sentinel.aclose()


def is_cluster(client: RedisClient) -> bool:
    return isinstance(client, RedisCluster)
