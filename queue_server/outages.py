"""What counts as "the state store is unavailable", and how a burst of it is logged.

Redis can be away in many ways, and redis-py reports each differently: a refused or reset
connection (``ConnectionError``), no answer in time (``TimeoutError``), a server still
replaying its AOF (``BusyLoadingError``, ``-LOADING``), a failover in progress (``READONLY``
from a demoted primary, ``MASTERDOWN``, Sentinel's ``MasterNotFoundError``), a primary that
refuses writes without its replicas (``NOREPLICAS``, ``min-replicas-to-write``), a disk that
refuses the AOF (``MISCONF``), a Cluster resharding or failing over (``TRYAGAIN``,
``CLUSTERDOWN``), a script running too long (``BUSY``). Every one of them is temporary and
means the same to a caller: a 503 with ``Retry-After``, never a 500.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import (
    ClusterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisClusterException,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from queue_server.errors import Unavailable

RETRY_AFTER_S = 1   # a restarted Redis answers within ~0.1–3 s (docs/reliability.md)
# Error replies redis-py has no class for keep their code in front of the message.
OUTAGE_REPLIES = ("READONLY", "LOADING", "MASTERDOWN", "NOREPLICAS", "MISCONF", "TRYAGAIN",
                  "CLUSTERDOWN", "BUSY ", "UNBLOCKED", "OOM ")
OUTAGE_TYPES = (Unavailable, RedisConnectionError, RedisTimeoutError, OSError, TimeoutError,
                RedisClusterException, ReadOnlyError, TryAgainError, ClusterDownError,
                OutOfMemoryError)


def is_outage(error: BaseException) -> bool:
    """True when ``error`` means Redis is (for now) not there to serve the request."""
    if isinstance(error, OUTAGE_TYPES):
        return True
    return isinstance(error, ResponseError) and str(error).lstrip("-").startswith(OUTAGE_REPLIES)


def as_unavailable(error: BaseException) -> Unavailable:
    if isinstance(error, Unavailable):
        return error
    return Unavailable(f"the state store (Redis) cannot be reached: "
                       f"{type(error).__name__}: {error}")


@contextmanager
def store_errors() -> Iterator[None]:
    """Raise an outage met inside the block as Unavailable (503, 1013 on a socket); direct
    client calls (reads outside the scripts) use this."""
    try:
        yield
    except Unavailable:
        raise
    except Exception as error:
        if is_outage(error):
            raise as_unavailable(error) from error
        raise


class OutageLog:
    """One warning per ``every_s`` during an outage instead of one per failed request: a
    lobby of screens and a queue of kiosks make thousands of them per second."""

    def __init__(self, logger: logging.Logger, every_s: float = 5.0) -> None:
        self.logger = logger
        self.every_s = every_s
        self._last = 0.0
        self._muted = 0

    def failed(self, what: str, error: BaseException) -> None:
        now = time.monotonic()
        if now - self._last < self.every_s:
            self._muted += 1
            return
        more = f" ({self._muted} more since the last report)" if self._muted else ""
        self.logger.warning("%s: %s%s", what, error, more)
        self._last, self._muted = now, 0
