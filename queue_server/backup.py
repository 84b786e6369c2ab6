"""Backup and restore of the live state in Redis (docs/reliability.md, "Backups").

``python -m queue_server backup FILE`` asks the Redis the server uses (``QMS_REDIS_URL``, a
Sentinel's primary, or the embedded server of ``QMS_DATA_DIR``) for a snapshot over the
replication protocol, as ``redis-cli --rdb`` does: a consistent RDB of that instant, taken
while the server keeps serving, written wherever the command runs (another machine, too).

``python -m queue_server restore FILE`` puts such a snapshot back into the embedded
server's folder while no server runs there: the current AOF is moved aside (never deleted),
the snapshot is loaded by a Redis started without AOF, which then writes a fresh AOF from it
(``CONFIG SET appendonly yes``), and stops. The next start replays that AOF. For an external
Redis, the same steps are its operator's: docs/reliability.md lists them.

Exceptions::

    QmsError
     └── BackupError   no snapshot could be taken or restored (says why)
"""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

import redis

from queue_server.embedded import EmbeddedRedis, send_command
from queue_server.errors import QmsError
from queue_server.redis_child import LOCK_FILE, OWNER_FILE
from queue_server.supervisor import FolderBusy, FolderLock

RDB_MAGIC = b"REDIS"
AOF_DIR = "appendonlydir"


class BackupError(QmsError):
    code = "backup-error"


def _address(url: str) -> tuple[str, int, str | None]:
    """Host, port and password of the primary behind a redis:// or redis+sentinel:// URL."""
    parts = urlsplit(url)
    password = unquote(parts.password) if parts.password else None
    if parts.scheme in ("redis", "rediss"):
        return parts.hostname or "127.0.0.1", parts.port or 6379, password
    if parts.scheme == "redis+sentinel":
        service = next((p for p in parts.path.split("/") if p), "qms")
        for host_port in parts.netloc.rpartition("@")[2].split(","):
            host, _, port = host_port.rpartition(":")
            try:
                with redis.Redis(host=host.strip("[]"), port=int(port), socket_timeout=2) as s:
                    primary = s.sentinel_get_master_addr_by_name(service)
                if primary:
                    return str(primary[0]), int(primary[1]), password
            except (redis.RedisError, OSError):
                continue
        raise BackupError(f"no sentinel of {url.rpartition('@')[2]} names a primary for "
                          f"{service}")
    raise BackupError(f"a backup needs a redis:// or redis+sentinel:// URL, got {parts.scheme}"
                      ":// (on a Cluster, back up each primary with redis-cli --rdb)")


def _line(sock: socket.socket) -> bytes:
    line = b""
    while not line.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise BackupError("Redis closed the connection during the snapshot")
        line += chunk
    return line[:-2]


def backup(url: str, dest: Path, timeout_s: float = 300.0) -> int:
    """Write a snapshot of the Redis at ``url`` to ``dest``; returns its size in bytes."""
    host, port, password = _address(url)
    temporary = dest.with_name(dest.name + ".partial")
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        if password:
            sock.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(password), password.encode()))
            if not _line(sock).startswith(b"+OK"):
                raise BackupError("Redis refused the password")
        # rdb-only: a snapshot, not a replication stream (Redis 7; older ones ignore it)
        sock.sendall(b"*3\r\n$8\r\nREPLCONF\r\n$8\r\nrdb-only\r\n$1\r\n1\r\n")
        _line(sock)
        sock.sendall(b"*1\r\n$4\r\nSYNC\r\n")
        header = b""
        while not header:            # newlines are keep-alives while the snapshot is made
            header = _line(sock)
        if not header.startswith(b"$"):
            raise BackupError(f"Redis answered the snapshot request with {header[:80]!r}")
        with temporary.open("wb") as out:
            if header.startswith(b"$EOF:"):
                _copy_until_mark(sock, out, header[5:])
            else:
                _copy_exactly(sock, out, int(header[1:]))
    with temporary.open("rb") as check:
        if check.read(len(RDB_MAGIC)) != RDB_MAGIC:
            temporary.unlink()
            raise BackupError("what Redis sent is not an RDB snapshot")
    temporary.replace(dest)
    return dest.stat().st_size


def _copy_exactly(sock: socket.socket, out: BinaryIO, size: int) -> None:
    left = size
    while left:
        chunk = sock.recv(min(left, 1 << 16))
        if not chunk:
            raise BackupError("the snapshot ended early")
        out.write(chunk)
        left -= len(chunk)


def _copy_until_mark(sock: socket.socket, out: BinaryIO, mark: bytes) -> None:
    """Diskless replication: the RDB is followed by the 40-byte mark announced first."""
    tail = b""
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise BackupError("the snapshot ended before its end mark")
        tail += chunk
        if tail.endswith(mark):
            out.write(tail[:-len(mark)])
            return
        keep = len(mark)
        out.write(tail[:-keep])
        tail = tail[-keep:]


def restore(data_dir: Path, snapshot: Path, timeout_s: float = 300.0) -> Path | None:
    """Replace the embedded server's data with ``snapshot``; returns where the previous AOF
    was moved (None if there was none). Refused while a server runs on the folder."""
    if not snapshot.is_file():
        raise BackupError(f"no snapshot at {snapshot}")
    with snapshot.open("rb") as check:
        if check.read(len(RDB_MAGIC)) != RDB_MAGIC:
            raise BackupError(f"{snapshot} is not an RDB snapshot")
    lock = FolderLock(data_dir / LOCK_FILE)
    try:
        lock.acquire()
    except FolderBusy as busy:
        raise BackupError(f"the server is running on {data_dir} ({busy.holder}): stop it "
                          "before a restore") from None
    try:
        if (data_dir / OWNER_FILE).exists():
            raise BackupError(f"{data_dir / OWNER_FILE} names a Redis that may still run: "
                              "start and stop the server once, then restore")
        aside = None
        if (data_dir / AOF_DIR).exists():
            aside = data_dir / f"{AOF_DIR}.before-restore-{time.strftime('%Y%m%d-%H%M%S')}"
            (data_dir / AOF_DIR).rename(aside)
        shutil.copyfile(snapshot, data_dir / "dump.rdb")
        server = EmbeddedRedis(data_dir, appendonly=False).start(timeout=timeout_s)
        try:
            send_command(server.port, "CONFIG", "SET", "appendonly", "yes")
            _wait_rewrite(server, timeout_s)
        finally:
            server.stop()
        (data_dir / "dump.rdb").unlink()
        return aside
    finally:
        lock.release()


def _wait_rewrite(server: EmbeddedRedis, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    with redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=5) as client:
        while True:
            info = client.info("persistence")
            written = any((server.data_dir / AOF_DIR).glob("*.manifest"))
            if written and info.get("aof_enabled") and not info.get("aof_rewrite_in_progress") \
                    and not info.get("aof_rewrite_scheduled"):
                return
            if time.monotonic() > deadline:
                raise BackupError(f"the AOF was not rewritten within {timeout_s:g} s")
            time.sleep(0.05)
