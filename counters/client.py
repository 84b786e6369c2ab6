"""A small HTTP client for the command-line console, on the standard library only.

Errors come back as :class:`CliError` carrying one sentence taken from the server's problem
``detail``. A request with an ``Idempotency-Key`` is retried with the same key after a
connection failure or a 502/503/504, so the server acts at most once.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RETRY_STATUS = frozenset({502, 503, 504})
ATTEMPTS = 3
TIMEOUT_S = 15.0


class CliError(Exception):
    """A failure to report as one sentence (exit status 2)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status

    @classmethod
    def of(cls, key: str, status: int = 0, **fields: Any) -> CliError:
        """The catalogue's sentence of the reason ``key`` (queue_server/messages.py),
        "vi / en"."""
        from queue_server.messages import render

        return cls(f"{render(key, fields, 'vi')} / {render(key, fields, 'en')}", status)


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "qms"


@dataclass
class Stored:
    """The login kept between commands: ~/.config/qms/token (0600) and the server's address."""

    folder: Path

    @property
    def token_file(self) -> Path:
        return self.folder / "token"

    @property
    def server_file(self) -> Path:
        return self.folder / "server"

    def token(self) -> str:
        from_env = os.environ.get("QMS_TOKEN", "").strip()
        if from_env:
            return from_env
        try:
            return self.token_file.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return ""

    def server(self) -> str:
        try:
            return self.server_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return ""

    def save(self, server: str, token: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Created private before the secret is written into it.
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(token + "\n")
        self.server_file.write_text(server + "\n", encoding="utf-8")

    def forget(self) -> bool:
        existed = self.token_file.exists()
        self.token_file.unlink(missing_ok=True)
        return existed


def problem_sentence(status: int, body: bytes) -> str:
    """The server's problem ``detail`` (Vietnamese first), else a sentence for the status."""
    try:
        problem = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        problem = {}
    detail = problem.get("detail") if isinstance(problem, dict) else None
    if isinstance(detail, str) and detail:
        return detail
    return str(CliError.of("server_answered_status", status=status))


class Client:
    def __init__(self, server: str, token: str = "", timeout_s: float = TIMEOUT_S) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    def request(self, method: str, path: str, body: dict[str, Any] | None = None, *,
                key: str | None = None) -> Any:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if key:
            headers["Idempotency-Key"] = key
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        # Only a request that cannot act twice is retried: a read, or one with a key.
        attempts = ATTEMPTS if key or method == "GET" else 1
        error: CliError | None = None
        for attempt in range(attempts):
            if attempt:
                time.sleep(0.3 * 3 ** (attempt - 1))
            request = urllib.request.Request(self.server + path, data=data, headers=headers,
                                             method=method)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    raw = response.read()
                    return json.loads(raw) if raw else None
            except urllib.error.HTTPError as failure:
                error = CliError(problem_sentence(failure.code, failure.read()), failure.code)
                if failure.code not in RETRY_STATUS:
                    break
            except (urllib.error.URLError, TimeoutError, ConnectionError) as failure:
                reason = getattr(failure, "reason", failure)
                error = CliError.of("server_unreachable", server=self.server, cause=reason)
        assert error is not None
        raise error
