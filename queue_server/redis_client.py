"""Connecting to Redis from a URL: a node, Sentinel or a Cluster, with the same client API.

- ``redis://host:port/db`` or ``rediss://…``: one node;
- ``redis+sentinel://host:port[,host:port…]/service_name[/db]``: the master that Sentinel names;
- ``redis+cluster://host:port[,host:port…]``: a Redis Cluster (any node; the rest is discovered).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import Sentinel

from queue_server.errors import ConfigError

RedisClient = Any  # redis.asyncio.Redis or RedisCluster: the same command surface


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


def connect(url: str, *, max_connections: int = 64) -> RedisClient:
    """A client for the URL; nothing is sent until the first command."""
    parts = urlsplit(url)
    options: dict[str, Any] = {"socket_connect_timeout": 2.0, "health_check_interval": 15}
    if parts.scheme in ("redis", "rediss", "unix"):
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=POOL_WAIT_S, **options)
        return aioredis.Redis.from_pool(pool)
    if parts.scheme == "redis+cluster":
        nodes = [ClusterNode(host, port) for host, port in _hosts(parts.netloc, url)]
        return RedisCluster(startup_nodes=nodes, max_connections=max_connections,
                            socket_connect_timeout=2.0)
    if parts.scheme == "redis+sentinel":
        path = [p for p in parts.path.split("/") if p]
        if not path:
            raise ConfigError(f"Redis URL {url!r}: expected /service_name after the sentinels",
                              key="url")
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            _hosts(parts.netloc, url), socket_connect_timeout=2.0)
        db = int(path[1]) if len(path) > 1 else 0
        client = sentinel.master_for(path[0], db=db, max_connections=max_connections)
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
