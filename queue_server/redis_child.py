"""The embedded Redis as a supervised child (queue_server.supervisor): one per data folder.

With no ``QMS_REDIS_URL`` the server runs a Redis of its own under ``QMS_DATA_DIR/redis``:

- **one supervisor per folder**: the process that starts it holds ``supervisor.lock``
  (``flock``, released by the kernel however that process ends). Another process on the same
  folder (a second uvicorn worker, ``create-account`` while ``run`` runs) uses the running
  server instead of starting a second one on the same files;
- **a secret**: the server is started with a random ``requirepass``, recorded with its pid,
  port and run id in ``owner.json`` (mode 0600). Other users of the machine cannot use it,
  and the record proves ownership;
- **adoption**: a start that finds a server left running on the folder (its supervisor was
  killed) adopts it only if it is provably the one recorded: the same pid, the run id it
  reported when started, the folder as its ``dir``, and it accepts the recorded secret. It is
  then used if it answers, or killed and restarted from its files if it does not. Any other
  Redis running on the folder stops the start with a sentence naming its pid;
- **restarts**: killed, it is started again from its AOF on the same port with the same
  secret, so the app's connection pools reconnect by themselves.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import redis

from queue_server.embedded import (
    HOST,
    EmbeddedRedis,
    EmbeddedServerError,
    free_port,
    pid_alive,
)
from queue_server.supervisor import FolderBusy, FolderLock, Health, Supervisor

log = logging.getLogger("qms.redis")
OWNER_FILE = "owner.json"
LOCK_FILE = "supervisor.lock"
SERVER_NAMES = ("redis-server", "valkey-server")
START_TIMEOUT_S = 120.0   # replaying a large AOF after a crash
CHECK_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class OwnerRecord:
    """What proves a server on the folder is the one the queue server started."""

    pid: int
    port: int
    password: str
    run_id: str
    started_at: float

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@{HOST}:{self.port}/0"

    @classmethod
    def read(cls, data_dir: Path) -> OwnerRecord | None:
        try:
            data = json.loads((data_dir / OWNER_FILE).read_text(encoding="utf-8"))
            return cls(int(data["pid"]), int(data["port"]), str(data["password"]),
                       str(data["run_id"]), float(data["started_at"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, data_dir: Path) -> None:
        path = data_dir / OWNER_FILE
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(asdict(self), out)
        temporary.replace(path)


def _facts(port: int, password: str) -> dict[str, str]:
    """The server's own pid, run id and folder, asked with the secret."""
    with redis.Redis(host=HOST, port=port, password=password, socket_timeout=1.0,
                     socket_connect_timeout=1.0, decode_responses=True) as client:
        info = client.info("server")
        folder = client.config_get("dir").get("dir", "")
    return {"pid": str(info.get("process_id")), "run_id": str(info.get("run_id")),
            "dir": str(folder)}


def disproof(record: OwnerRecord, data_dir: Path) -> str | None:
    """None when the recorded server is provably ours; else why not."""
    try:
        facts = _facts(record.port, record.password)
    except (redis.RedisError, OSError) as error:
        return f"it does not answer with the recorded secret ({type(error).__name__})"
    if facts["pid"] != str(record.pid):
        return f"port {record.port} is served by pid {facts['pid']}, not {record.pid}"
    if facts["run_id"] != record.run_id:
        return "its run id is not the one recorded when it was started"
    if Path(facts["dir"]).resolve() != data_dir.resolve():
        return f"it works in {facts['dir']}"
    return None


def occupants(data_dir: Path) -> list[int]:
    """Pids of Redis-compatible servers working in ``data_dir`` (their cwd; we start ours
    there), so no second server is ever started on the same files."""
    wanted = data_dir.resolve()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if Path(os.readlink(entry / "cwd")) != wanted:
                continue
            argv0 = (entry / "cmdline").read_bytes().split(b"\0", 1)[0].decode()
        except OSError:
            continue
        if Path(argv0.split()[0] if argv0 else "").name in SERVER_NAMES and \
                pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def running_server_url(data_dir: Path) -> str | None:
    """The URL (with its secret) of the embedded server running on ``data_dir``, if it is
    provably ours and answers; for commands that use it while ``run`` supervises it."""
    record = OwnerRecord.read(data_dir)
    if record is None or not pid_alive(record.pid) or disproof(record, data_dir) is not None:
        return None
    return record.url


class RedisChild:
    """The embedded Redis of one data folder, as a :class:`queue_server.supervisor.Child`."""

    name = "redis"

    def __init__(self, data_dir: Path, *, appendfsync: str = "always",
                 start_timeout_s: float = START_TIMEOUT_S) -> None:
        self.data_dir = Path(data_dir)
        self.appendfsync = appendfsync
        self.start_timeout_s = start_timeout_s
        self.server: EmbeddedRedis | None = None
        self.adopted = False
        self._lock = FolderLock(self.data_dir / LOCK_FILE)

    @property
    def url(self) -> str:
        if self.server is None:
            raise EmbeddedServerError("the embedded Redis is not started")
        return self.server.url

    def start(self) -> None:
        """First start (adopting a server left on the folder if provably ours), or a restart
        from the AOF on the same port with the same secret."""
        if self.server is None:
            self._lock.acquire()   # FolderBusy: another live process supervises the folder
            try:
                self._first_start()
            except BaseException:
                self._lock.release()
                raise
            return
        if self.health() is Health.UP:
            return
        self.server.kill()      # a dead one is reaped, a hung one killed
        self.server.start(timeout=self.start_timeout_s)
        self._record()

    def _first_start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        record = OwnerRecord.read(self.data_dir)
        present = occupants(self.data_dir)
        if present:
            if record is None or record.pid not in present:
                raise EmbeddedServerError(
                    f"A Redis-compatible server (pid {', '.join(map(str, present))}) is running "
                    f"on {self.data_dir}, and it is not the one this queue server started "
                    f"there ({OWNER_FILE} does not name it): stop it, or choose another "
                    "QMS_DATA_DIR.")
            reason = disproof(record, self.data_dir)
            if reason is not None:
                raise EmbeddedServerError(
                    f"A Redis-compatible server (pid {record.pid}, port {record.port}) is "
                    f"running on {self.data_dir} but is not provably the one this queue "
                    f"server started: {reason}. Stop it (kill {record.pid}) and start again.")
            self._adopt(record)
            return
        self._launch(secrets.token_urlsafe(24))

    def _adopt(self, record: OwnerRecord) -> None:
        self.server = EmbeddedRedis.attach(self.data_dir, record.port, record.pid,
                                           password=record.password,
                                           appendfsync=self.appendfsync)
        self.adopted = True
        if self._wait_up():
            log.info("Adopted the embedded Redis left running on %s (pid %d, port %d, started "
                     "%s): it is the one recorded there and it answers.", self.data_dir,
                     record.pid, record.port,
                     time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.started_at)))
            return
        log.warning("The embedded Redis left running on %s (pid %d) is ours but does not "
                    "answer: restarting it from its files.", self.data_dir, record.pid)
        self.server.kill()
        self.server.start(timeout=self.start_timeout_s)
        self._record()

    def _wait_up(self) -> bool:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            health = self.health()
            if health is Health.UP:
                return True
            if health is not Health.STARTING:
                return False
            time.sleep(0.05)
        return False

    def _launch(self, password: str) -> None:
        for attempt in range(3):
            # The port is fixed for the life of this child: restarts must keep the URL.
            self.server = EmbeddedRedis(self.data_dir, port=free_port(), password=password,
                                        appendfsync=self.appendfsync)
            try:
                self.server.start(timeout=self.start_timeout_s)
                break
            except EmbeddedServerError as error:
                if attempt == 2 or "Address already in use" not in str(error):
                    raise
        self._record()

    def _record(self) -> None:
        server = self.server
        assert server is not None and server.password is not None and server.pid is not None
        facts = _facts(server.port, server.password)
        OwnerRecord(server.pid, server.port, server.password, facts["run_id"],
                    time.time()).write(self.data_dir)

    def stop(self) -> None:
        """SHUTDOWN (the AOF is flushed), forget the record, let the folder go."""
        if self.server is not None:
            pid = self.server.pid
            self.server.stop()
            with contextlib.suppress(OSError):
                (self.data_dir / OWNER_FILE).unlink()
            self.server = None
            log.info("Stopped the embedded Redis of %s (pid %s); its AOF is flushed.",
                     self.data_dir, pid)
        self._lock.release()

    def health(self) -> Health:
        server = self.server
        if server is None or not server.running:
            return Health.DOWN
        try:
            reply = server.ping(timeout=CHECK_TIMEOUT_S)
        except OSError:
            return Health.UNRESPONSIVE
        if reply == b"+PONG":
            return Health.UP
        if reply.startswith(b"-LOADING"):
            return Health.STARTING
        return Health.UNRESPONSIVE


def open_embedded(data_dir: Path, *, appendfsync: str = "always",
                  wait_s: float = 60.0) -> tuple[str, Supervisor | None]:
    """The embedded Redis of ``data_dir``: started (or adopted) and supervised here, with the
    Supervisor to stop; or, when another live process supervises the folder, that server's URL
    and None (waiting up to ``wait_s`` for it to answer: it may be starting)."""
    child = RedisChild(data_dir, appendfsync=appendfsync)
    try:
        supervisor = Supervisor([child]).start()
    except FolderBusy as busy:
        deadline = time.monotonic() + wait_s
        while True:
            url = running_server_url(data_dir)
            if url is not None:
                log.info("Using the embedded Redis of %s, supervised by another process (%s).",
                         data_dir, busy.holder)
                return url, None
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"{data_dir} is supervised by another process ({busy.holder}) whose Redis "
                    f"did not answer within {wait_s:g} s") from None
            time.sleep(0.1)
    return child.url, supervisor


def public_url(url: str) -> str:
    """A Redis URL without its password, for logs and the console."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"
