"""Provision Grafana through its HTTP API: data source, folder and the four dashboards.

``python -m monitoring.grafana provision --url URL --token TOKEN`` creates what is missing and
updates what exists, so running it twice changes nothing the second time but the dashboards'
version numbers. Everything is found by a stable uid (data source ``qms-prometheus``, folder
``qms``, dashboards ``qms-*``), never by position or numeric id.

Exceptions::

    ProvisionError        one sentence for the operator, with the process exit code
                          (2: Grafana unreachable or the token refused; 1: Grafana refused a change)

Requests go through :class:`grafana_client.GrafanaApi`; its errors are translated here.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, NoReturn
from urllib.parse import quote, urlsplit

from grafana_client.api import GrafanaApi
from grafana_client.client import (
    GrafanaClientError,
    GrafanaException,
    GrafanaServerError,
    GrafanaTimeoutError,
    GrafanaUnauthorizedError,
)

from .dashboards import DATASOURCE_NAME, DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID, all_dashboards
from .dashboards.export import DEFAULT_PROMETHEUS_URL, datasource_model

EXIT_REFUSED: Final = 1
EXIT_UNREACHABLE: Final = 2
TOKEN_ENV: Final = "QMS_GRAFANA_TOKEN"
COMMIT_MESSAGE: Final = "python -m monitoring.grafana provision"

# Fields of an existing data source that an update carries over, so that settings made in
# Grafana (authentication, default flag, extra jsonData) survive a provisioning run.
_KEPT_DATASOURCE_FIELDS: Final = (
    "name",
    "uid",
    "type",
    "access",
    "url",
    "user",
    "database",
    "basicAuth",
    "basicAuthUser",
    "withCredentials",
    "isDefault",
    "jsonData",
    "version",
)

_ACTIONS: Final = {
    "created": "đã tạo / created",
    "updated": "đã cập nhật / updated",
    "unchanged": "không đổi / unchanged",
    "kept": "giữ nguyên: chỉ đọc, provisioned từ tệp / kept: read-only, provisioned from a file",
}


_ERRORS: Final = (GrafanaException, OSError)


class ProvisionError(Exception):
    """A failure the operator can act on: one sentence and the exit code to leave with."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


@dataclass(frozen=True)
class Outcome:
    """What one step did: ``kind`` (datasource, folder, dashboard), ``uid``, ``action``."""

    kind: str
    uid: str
    action: str
    detail: str = ""

    def __str__(self) -> str:
        text = f"{self.kind} {self.uid}: {_ACTIONS[self.action]}"
        return f"{text} ({self.detail})" if self.detail else text


class Grafana:
    """The few Grafana calls provisioning needs, with errors turned into ProvisionError."""

    def __init__(self, url: str, token: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        # Shown in messages: without any user:password@ the URL may carry.
        self.url = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        try:
            port = parts.port
        except ValueError:
            port = None
            parts = parts._replace(netloc="")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProvisionError(
                f"URL Grafana không hợp lệ: {url!r} / Invalid Grafana URL {url!r}: "
                "expected http(s)://host[:port][/path].",
                EXIT_UNREACHABLE,
            )
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        prefix = parts.path.strip("/")
        # grafana-client appends "api" to the prefix as is: "grafana/" + "api", not "grafanaapi".
        self.api: Any = GrafanaApi(
            auth=token,
            host=host,
            port=port,
            url_path_prefix=f"{prefix}/" if prefix else "",
            protocol=parts.scheme,
            timeout=timeout,
        )

    def close(self) -> None:
        """Close the HTTP session (its pooled connections)."""
        self.api.client.s.close()

    def __enter__(self) -> Grafana:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def call(self, what: tuple[str, str], request: Callable[[], Any]) -> Any:
        """Run one request; ``what`` says what it does (Vietnamese, English) for errors."""
        try:
            return request()
        except _ERRORS as error:
            self._translate(what, error)

    def find(self, what: tuple[str, str], request: Callable[[], Any]) -> dict[str, Any] | None:
        """Like :meth:`call` for a lookup: ``None`` when Grafana answers 404."""
        try:
            return self.as_object(request())
        except GrafanaClientError as error:
            if error.status_code == 404:
                return None
            self._translate(what, error)
        except _ERRORS as error:
            self._translate(what, error)

    def check_health(self) -> None:
        """Fail with a clear sentence unless ``URL/api/health`` answers like Grafana."""
        try:
            health = self.api.client.GET("/health")
        except (GrafanaClientError, GrafanaServerError):
            health = None
        except _ERRORS as error:
            self._translate(("kiểm tra tình trạng", "check health"), error)
        if not isinstance(health, dict) or "database" not in health:
            self._fail(
                f"{self.url} không trả lời như Grafana ở /api/health "
                f"/ {self.url} does not answer like Grafana at /api/health.",
                EXIT_UNREACHABLE,
            )

    def as_object(self, value: Any) -> dict[str, Any]:
        """``value`` if it is a JSON object, else fail: the server is not Grafana."""
        if not isinstance(value, dict):
            self._fail(
                f"{self.url} trả lời không phải JSON của Grafana "
                f"/ {self.url} answered with something other than Grafana's JSON.",
                EXIT_UNREACHABLE,
            )
        return value

    def _translate(self, what: tuple[str, str], error: Exception) -> NoReturn:
        if isinstance(error, GrafanaUnauthorizedError):
            self._fail(
                f"Grafana tại {self.url} từ chối token (HTTP 401) "
                f"/ Grafana at {self.url} rejected the token (HTTP 401).",
                EXIT_UNREACHABLE,
            )
        if isinstance(error, GrafanaClientError | GrafanaServerError):
            self._refused(what, error)
        # Timeouts and transport errors; the HTTP library's errors are OSError subclasses.
        self._fail(
            f"Không kết nối được Grafana tại {self.url} / Cannot reach Grafana at "
            f"{self.url} ({_reason(error)}).",
            EXIT_UNREACHABLE,
        )

    def _refused(self, what: tuple[str, str], error: GrafanaException) -> NoReturn:
        status = error.status_code
        detail = error.response.get("message") if isinstance(error.response, dict) else None
        reason = f"HTTP {status}" + (f": {detail}" if detail else "")
        if status == 403:
            self._fail(
                f"Token không đủ quyền để {what[0]} ({reason}) / The token is not allowed to "
                f"{what[1]} ({reason}); it needs the Admin role.",
                EXIT_UNREACHABLE,
            )
        self._fail(
            f"Grafana từ chối {what[0]} ({reason}) / Grafana refused to {what[1]} ({reason}).",
            EXIT_REFUSED,
        )

    @staticmethod
    def _fail(message: str, exit_code: int) -> NoReturn:
        raise ProvisionError(message, exit_code)


def _reason(error: BaseException) -> str:
    """A short reason for a transport failure, without the HTTP library's internals."""
    text = str(error)
    for marker, reason in (
        ("Connection refused", "connection refused"),
        ("Failed to resolve", "host name not found"),
        ("Name or service not known", "host name not found"),
        ("timed out", "no answer in time"),
        ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
    ):
        if marker in text:
            return reason
    if isinstance(error, GrafanaTimeoutError):
        return "no answer in time"
    lines = text.strip().splitlines()
    return lines[0].rstrip(".")[:160] if lines else type(error).__name__


def ensure_datasource(grafana: Grafana, prometheus_url: str) -> Outcome:
    """Create the Prometheus data source, or update the one with our uid."""
    desired = datasource_model(prometheus_url)
    api = grafana.api
    existing = grafana.find(
        ("đọc data source", "read the data source"),
        lambda: api.datasource.get_datasource_by_uid(DATASOURCE_UID),
    )
    if existing is None:
        namesake = grafana.find(
            ("tìm data source theo tên", "look up the data source by name"),
            lambda: api.datasource.get_datasource_by_name(quote(DATASOURCE_NAME, safe="")),
        )
        if namesake is not None:
            raise ProvisionError(
                f"Đã có data source tên {DATASOURCE_NAME!r} với uid {namesake.get('uid')!r}, "
                f"hãy đổi tên hoặc xoá nó / A data source named {DATASOURCE_NAME!r} already "
                f"exists with uid {namesake.get('uid')!r}, but the dashboards use uid "
                f"{DATASOURCE_UID!r}: rename or delete it.",
                EXIT_REFUSED,
            )
        grafana.call(
            ("tạo data source", "create the data source"),
            lambda: api.datasource.create_datasource({**desired, "isDefault": False}),
        )
        return Outcome("datasource", DATASOURCE_UID, "created", prometheus_url)
    if existing.get("readOnly"):
        return Outcome("datasource", DATASOURCE_UID, "kept", str(existing.get("url", "")))
    body: dict[str, Any] = {k: existing[k] for k in _KEPT_DATASOURCE_FIELDS if k in existing}
    body.update(desired)
    body["jsonData"] = {**existing.get("jsonData", {}), **desired["jsonData"]}
    grafana.call(
        ("cập nhật data source", "update the data source"),
        lambda: api.datasource.update_datasource_by_uid(DATASOURCE_UID, body),
    )
    return Outcome("datasource", DATASOURCE_UID, "updated", prometheus_url)


def ensure_folder(grafana: Grafana, title: str, uid: str = FOLDER_UID) -> Outcome:
    """Create the folder, or rename it when its title differs."""
    api = grafana.api
    existing = grafana.find(("đọc thư mục", "read the folder"), lambda: api.folder.get_folder(uid))
    if existing is None:
        grafana.call(
            ("tạo thư mục", "create the folder"),
            lambda: api.folder.create_folder(title, uid=uid),
        )
        return Outcome("folder", uid, "created", title)
    if existing.get("title") == title:
        return Outcome("folder", uid, "unchanged", title)
    grafana.call(
        ("đổi tên thư mục", "rename the folder"),
        lambda: api.folder.update_folder(uid, title=title, overwrite=True),
    )
    return Outcome("folder", uid, "updated", title)


def save_dashboard(grafana: Grafana, board: dict[str, Any], folder_uid: str) -> Outcome:
    """Save one dashboard into the folder, replacing the one with the same uid."""
    payload = {
        "dashboard": {**board, "id": None},
        "folderUid": folder_uid,
        "overwrite": True,
        "message": COMMIT_MESSAGE,
    }
    saved = grafana.as_object(
        grafana.call(
            ("lưu dashboard", f"save dashboard {board['uid']}"),
            lambda: grafana.api.dashboard.update_dashboard(payload),
        )
    )
    version = saved.get("version")
    action = "created" if version == 1 else "updated"
    return Outcome("dashboard", str(board["uid"]), action, f"version {version}")


def provision(
    grafana: Grafana,
    *,
    prometheus_url: str = DEFAULT_PROMETHEUS_URL,
    folder_title: str = FOLDER_TITLE,
) -> list[Outcome]:
    """Health check, then data source, folder and every dashboard, in that order."""
    grafana.check_health()
    outcomes = [ensure_datasource(grafana, prometheus_url), ensure_folder(grafana, folder_title)]
    outcomes += [save_dashboard(grafana, b, FOLDER_UID) for b in all_dashboards().values()]
    return outcomes


def _parser() -> argparse.ArgumentParser:
    description = (
        "Đưa data source Prometheus, thư mục và bốn dashboard QMS lên Grafana qua HTTP API; "
        "chạy lại nhiều lần vẫn an toàn. / Create or update the Prometheus data source, "
        "the folder and the four QMS dashboards through Grafana's HTTP API; safe to rerun."
    )
    epilog = (
        "Mã thoát / exit codes: 0 xong / done; 1 Grafana từ chối một thay đổi / Grafana "
        "refused a change; 2 không kết nối được, token bị từ chối hoặc tham số sai / Grafana "
        "unreachable, the token rejected or bad arguments."
    )
    parser = argparse.ArgumentParser(
        prog="python -m monitoring.grafana", description=description, epilog=epilog
    )
    commands = parser.add_subparsers(dest="command", required=True)
    sub = commands.add_parser(
        "provision",
        help="tạo hoặc cập nhật mọi thứ / create or update everything",
        description=description,
        epilog=epilog,
    )
    sub.add_argument("--url", required=True, help="URL Grafana / Grafana URL, http(s)://host:port")
    sub.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV),
        help=(
            "token của service account có vai trò Admin / service-account token with the Admin "
            f"role (default: ${TOKEN_ENV}, which keeps it out of the process list)"
        ),
    )
    sub.add_argument(
        "--prometheus-url",
        default=DEFAULT_PROMETHEUS_URL,
        help="URL Prometheus mà Grafana truy cập / Prometheus URL as Grafana reaches it "
        "(default: %(default)s)",
    )
    sub.add_argument(
        "--folder",
        default=FOLDER_TITLE,
        help=f"tên thư mục / folder title (default: %(default)s; uid {FOLDER_UID!r})",
    )
    sub.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="giây chờ mỗi yêu cầu / seconds per request (default: %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m monitoring.grafana``; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.token:
        parser.error(f"cần --token hoặc ${TOKEN_ENV} / --token or ${TOKEN_ENV} is required")
    try:
        with Grafana(args.url, args.token, timeout=args.timeout) as grafana:
            outcomes = provision(
                grafana, prometheus_url=args.prometheus_url, folder_title=args.folder
            )
    except ProvisionError as error:
        print(error.message, file=sys.stderr)
        return error.exit_code
    for outcome in outcomes:
        print(outcome)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
