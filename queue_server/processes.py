"""Small process and wire helpers for the servers the queue server starts: free loopback
ports, one raw Redis command without a client library, and whether a pid still lives."""

from __future__ import annotations

import os
import socket
import time

HOST = "127.0.0.1"
_POLL_INTERVAL = 0.02


def pid_alive(pid: int) -> bool:
    """True while a process with this id exists (and is not a zombie waiting to be reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _encode(*args: str) -> bytes:
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def send_command(port: int, *args: str, timeout: float = 1.0,
                 password: str | None = None) -> bytes:
    """Send one command to 127.0.0.1:port and return the first reply line (b"" if closed);
    with ``password``, AUTH first (an AUTH refusal is the reply returned).

    Raw sockets keep start-up and shutdown free of client-library state: no pools to close.
    """
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        if password is not None:
            sock.sendall(_encode("AUTH", password))
            reply = _read_line(sock)
            if not reply.startswith(b"+OK"):
                return reply
        sock.sendall(_encode(*args))
        return _read_line(sock)


def _read_line(sock: socket.socket) -> bytes:
    reply = b""
    while not reply.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        reply += chunk
    return reply.strip()


def gone(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` for ``pid`` to end (a process not ours to wait() for)."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL_INTERVAL)
    return True
