"""The archive's embedded PostgreSQL as a supervised child (queue_server.supervisor).

With no ``QMS_DATABASE_URL`` the archive runs a PostgreSQL of its own under
``QMS_DATA_DIR/postgres`` (queue_server.embedded_postgres), supervised like the embedded
Redis (queue_server.redis_child):

- **one supervisor per folder**: the process that starts it holds ``supervisor.lock``; another
  process on the same folder uses the running server instead of starting a second one;
- **restarts**: killed or hung, it is started again from its cluster (PostgreSQL replays its
  write-ahead log) on the same port with the same password, so the archive's pool reconnects by
  itself and the archiver goes on from its checkpoint: nothing is lost, since the streams it
  reads from stay in Redis until archived;
- **a server left running** on the folder (its supervisor was killed) is provably ours when
  its ``postmaster.pid`` is in our cluster and it accepts the password only we hold: it is
  then shut down fast (a checkpoint, nothing lost) and started again as our child, so that it
  is supervised from then on. A server on the cluster that does not accept our password stops
  the start with a sentence naming its pid.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from pathlib import Path

from queue_server.embedded import pid_alive
from queue_server.embedded_postgres import (
    EmbeddedPostgres,
    EmbeddedPostgresError,
    running_database_url,
)
from queue_server.supervisor import FolderBusy, FolderLock, Health, Supervisor

log = logging.getLogger("qms.postgres")
LOCK_FILE = "supervisor.lock"
CHECK_TIMEOUT_S = 1
SERVER_NAMES = ("postgres", "postmaster")
CHECK_INTERVAL_S = 0.1     # the process's exit, seen at once (a wait, no I/O)
LOGIN_EVERY_S = 2.0        # a login forks a backend: an answer is checked this often only
STOP_WAIT_S = 30.0
STARTING = ("the database system is starting up", "the database system is in recovery mode",
            "the database system is not yet accepting connections")


def postmaster_pid(folder: Path) -> int | None:
    """The pid PostgreSQL wrote into the cluster's ``postmaster.pid``, if a PostgreSQL server
    runs with it (a stale file after a crash may name a pid reused by anything)."""
    try:
        first = (folder / "data" / "postmaster.pid").read_text().split("\n", 1)[0]
        pid = int(first)
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0]
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) and Path(argv0.decode()).name in SERVER_NAMES else None


class PostgresChild:
    """The embedded PostgreSQL of one folder, as a :class:`queue_server.supervisor.Child`."""

    name = "postgresql"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.server = EmbeddedPostgres(self.folder)
        self._lock = FolderLock(self.folder / LOCK_FILE)
        self._started = False
        self._login: tuple[float, Health] = (0.0, Health.DOWN)   # when, what it said

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> None:
        """First start (taking over a server left on the folder if provably ours), or a
        restart from the cluster on the same port with the same password."""
        if not self._started:
            self._lock.acquire()   # FolderBusy: another live process supervises the folder
            try:
                self._take_over_orphan()
                self.server.start()
            except BaseException:
                self._lock.release()
                raise
            self._started = True
            return
        if self.server.running and self._answers() is Health.UP:
            return
        port = self.server.port
        self.server.kill()          # a dead one is reaped, a hung one killed
        # The same port or none (a failed start is retried by the supervisor): the archive's
        # pool holds this URL.
        self.server = EmbeddedPostgres(self.folder, port=port)
        self.server.start()

    def _take_over_orphan(self) -> None:
        orphan = postmaster_pid(self.folder)
        if orphan is None:
            return
        if running_database_url(self.folder) is None:
            raise EmbeddedPostgresError(
                f"A PostgreSQL server (pid {orphan}) is running on {self.folder / 'data'} and "
                f"does not accept the password this queue server keeps there: stop it "
                f"(kill {orphan}) and start again.")
        log.info("Took over the embedded PostgreSQL left running on %s (pid %d): it is ours "
                 "(our cluster, our password); shutting it down fast to start it again under "
                 "supervision.", self.folder, orphan)
        with contextlib.suppress(ProcessLookupError):
            os.kill(orphan, signal.SIGINT)        # fast shutdown: a checkpoint, then exit
        deadline = time.monotonic() + STOP_WAIT_S
        while pid_alive(orphan):
            if time.monotonic() > deadline:
                raise EmbeddedPostgresError(
                    f"The PostgreSQL server left running on {self.folder} (pid {orphan}) did "
                    f"not stop within {STOP_WAIT_S:g} s: stop it (kill {orphan}) and start "
                    "again.")
            time.sleep(0.05)

    def stop(self) -> None:
        """Fast shutdown (a checkpoint: nothing committed is lost); let the folder go."""
        if self._started:
            pid = self.server.pid
            self.server.stop()
            self._started = False
            log.info("Stopped the embedded PostgreSQL of %s (pid %s).", self.folder, pid)
        self._lock.release()

    def health(self) -> Health:
        """DOWN as soon as the process has exited; whether it answers, from a login at most
        every LOGIN_EVERY_S (a hang is acted on after many seconds anyway)."""
        if not self.server.running:
            return Health.DOWN
        checked_at, said = self._login
        if time.monotonic() - checked_at < LOGIN_EVERY_S:
            return said
        return self._answers()

    def _answers(self) -> Health:
        import psycopg

        try:
            with psycopg.connect(self.server.url, connect_timeout=CHECK_TIMEOUT_S):
                said = Health.UP
        except psycopg.Error as error:
            said = (Health.STARTING if any(phrase in str(error) for phrase in STARTING)
                    else Health.UNRESPONSIVE)
        self._login = (time.monotonic(), said)
        return said


def open_embedded_postgres(folder: Path, wait_s: float = 60.0) -> tuple[str, Supervisor | None]:
    """The archive's embedded PostgreSQL on ``folder``: started and supervised here, with the
    Supervisor to stop; or, when another live process supervises the folder, that server's URL
    and None (waiting up to ``wait_s`` for it to answer: it may be starting)."""
    child = PostgresChild(folder)
    try:
        supervisor = Supervisor([child], interval_s=CHECK_INTERVAL_S, hung_after_s=10.0
                                ).start()
    except FolderBusy as busy:
        deadline = time.monotonic() + wait_s
        while (url := running_database_url(folder)) is None:
            if time.monotonic() > deadline:
                raise EmbeddedPostgresError(
                    f"{folder} is supervised by another process ({busy.holder}) whose "
                    f"PostgreSQL did not answer within {wait_s:g} s") from None
            time.sleep(0.1)
        log.info("Using the embedded PostgreSQL of %s, supervised by another process (%s).",
                 folder, busy.holder)
        return url, None
    return child.url, supervisor
