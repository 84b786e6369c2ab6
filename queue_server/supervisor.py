"""Supervision of the child processes the server starts for itself: restart what dies.

With no ``QMS_REDIS_URL`` the server runs its own Redis (``queue_server.redis_child``); the
archive adds its own PostgreSQL the same way. Each is a :class:`Child`: four methods, no
threads of its own. A :class:`Supervisor` starts its children in order, watches them from one
thread, restarts a child that died (or hangs) from its files, and stops them in reverse order.

How a second child plugs in (e.g. the archive's PostgreSQL)::

    class PostgresChild:                      # satisfies the Child protocol
        name = "postgresql"
        def start(self) -> None: ...          # initdb if needed, pg_ctl start -w; blocks until
                                              # it accepts connections; adopts a server left on
                                              # its folder only if provably its own
        def stop(self) -> None: ...           # pg_ctl stop -m fast; idempotent
        def health(self) -> Health: ...       # UP, STARTING (recovery), UNRESPONSIVE, DOWN
        @property
        def url(self) -> str: ...             # what the pools connect to; the same after a
                                              # restart (keep the port and the password)

    supervisor = Supervisor([RedisChild(...), PostgresChild(...)])
    supervisor.start()        # Redis first, then PostgreSQL
    ...
    supervisor.stop()         # PostgreSQL first, then Redis

``start()`` of a child is called again for a restart (a no-op if it is UP): it reaps a process
that died or kills one that hangs, then starts from the same files on the same address, so the
app's connection pools find it again without being told. A child that must never run twice on
its files takes a :class:`FolderLock` at its first start and lets it go in ``stop()``.

Exceptions::

    RuntimeError
     └── FolderBusy   another live process supervises that data folder
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Protocol

log = logging.getLogger("qms.supervisor")


class Health(StrEnum):
    UP = "up"                      # answers
    STARTING = "starting"          # alive and busy starting (Redis replaying its AOF): wait
    UNRESPONSIVE = "unresponsive"  # alive, not answering: killed after ``hung_after_s``
    DOWN = "down"                  # the process is gone


class Child(Protocol):
    """A server process the app starts and owns (see the module docstring)."""

    name: str

    @property
    def url(self) -> str: ...

    def start(self) -> None:
        """Start, or restart after DOWN/UNRESPONSIVE, from the child's files; return once it
        answers."""

    def stop(self) -> None:
        """Stop cleanly (flushing what it holds); idempotent."""

    def health(self) -> Health:
        """A cheap check (well under a second)."""


class FolderBusy(RuntimeError):
    """Another live process holds the lock of a data folder."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"{path.parent} is supervised by another process ({holder})")
        self.path = path
        self.holder = holder


class FolderLock:
    """An exclusive ``flock`` on a file of a data folder: held while a process supervises the
    folder, released by the kernel when that process dies, however it dies. Children started
    meanwhile do not inherit it (``subprocess`` closes other descriptors)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or raise FolderBusy at once (never waits)."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown pid"
            os.close(fd)
            raise FolderBusy(self.path, holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class Supervisor:
    """Starts children in order, restarts the ones that die, stops them in reverse order.

    One daemon thread checks every child every ``interval_s``: DOWN is restarted at once,
    UNRESPONSIVE after ``hung_after_s`` (then killed through ``stop()``), STARTING is left to
    finish. A restart that fails is retried with a backoff doubling up to ``max_backoff_s``.
    ``on_restart(child)`` runs in that thread after each successful restart.
    """

    def __init__(
        self,
        children: Sequence[Child],
        *,
        interval_s: float = 0.1,
        hung_after_s: float = 5.0,
        max_backoff_s: float = 5.0,
        on_restart: Callable[[Child], None] | None = None,
    ) -> None:
        self.children = list(children)
        self.interval_s = interval_s
        self.hung_after_s = hung_after_s
        self.max_backoff_s = max_backoff_s
        self.on_restart = on_restart
        self.restarts: dict[str, int] = {child.name: 0 for child in self.children}
        self._started: list[Child] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._unresponsive_since: dict[str, float] = {}
        self._retry_at: dict[str, tuple[float, float]] = {}  # name -> (when, next backoff)

    def start(self) -> Supervisor:
        """Start every child in order (a failure stops those already started), then watch."""
        try:
            for child in self.children:
                child.start()
                self._started.append(child)
        except BaseException:
            self._stop_children()
            raise
        self._thread = threading.Thread(target=self._watch, name="qms-supervisor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching, then stop the children, last started first. Idempotent."""
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None
        self._stop_children()

    def _stop_children(self) -> None:
        while self._started:
            child = self._started.pop()
            try:
                child.stop()
            except Exception:  # the others must still be stopped
                log.exception("stopping %s failed", child.name)

    def _watch(self) -> None:
        while not self._stopping.wait(self.interval_s):
            for child in tuple(self._started):
                if self._stopping.is_set():
                    return
                self._check(child)

    def _check(self, child: Child) -> None:
        name = child.name
        now = time.monotonic()
        retry = self._retry_at.get(name)
        if retry is not None and now < retry[0]:
            return
        try:
            health = child.health()
        except Exception as error:  # a check that cannot even run counts as no answer
            log.debug("health check of %s failed: %s", name, error)
            health = Health.UNRESPONSIVE
        if health is Health.UNRESPONSIVE:
            since = self._unresponsive_since.setdefault(name, now)
            if now - since < self.hung_after_s:
                return
            log.warning("%s has not answered for %.1f s: restarting it", name, now - since)
        elif health is Health.DOWN:
            log.warning("%s is down: restarting it from its files", name)
        else:
            self._unresponsive_since.pop(name, None)
            return
        self._restart(child, now)

    def _restart(self, child: Child, began: float) -> None:
        name = child.name
        self._unresponsive_since.pop(name, None)
        try:
            child.start()   # a restart: the child reaps a dead process, kills a hung one
        except Exception as error:
            backoff = self._retry_at.get(name, (0.0, 0.1))[1]
            self._retry_at[name] = (time.monotonic() + backoff,
                                    min(backoff * 2, self.max_backoff_s))
            log.error("restarting %s failed (%s); next try in %.1f s", name, error, backoff)
            return
        self._retry_at.pop(name, None)
        self.restarts[name] += 1
        log.warning("%s is back after %.2f s (restart %d)", name, time.monotonic() - began,
                    self.restarts[name])
        if self.on_restart is not None:
            try:
                self.on_restart(child)
            except Exception:
                log.exception("after restarting %s", name)
