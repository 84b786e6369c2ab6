"""``python -m monitoring.grafana provision`` against a recording stand-in for Grafana.

No Grafana server can be installed on this machine, so the provisioning command runs against
``RecordingGrafana``: a small HTTP server on 127.0.0.1 that answers the few endpoints the
command uses the way Grafana does (404 for a missing data source or folder, 401 for a wrong
token, versions that grow on each save) and records every request it receives.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from monitoring import grafana
from monitoring.dashboards import DATASOURCE_UID, FOLDER_TITLE, all_dashboards

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "glsa_test_token"
UIDS = list(all_dashboards())

# --- a recording stand-in for Grafana's HTTP API -------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    body: Any
    authorization: str | None


class RecordingGrafana(ThreadingHTTPServer):
    """Grafana's answers for the endpoints provisioning uses, and a log of every request."""

    daemon_threads = True

    def __init__(self, prefix: str = "") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.prefix = prefix
        self.requests: list[Request] = []
        self.datasources: dict[str, dict[str, Any]] = {}
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.fail_dashboards_with: int | None = None
        self.forbidden = False
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{self.prefix}"

    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests]

    def answer(self, method: str, path: str, body: Any, auth: str | None) -> tuple[int, Any]:
        with self.lock:
            self.requests.append(Request(method, path, body, auth))
            if not path.startswith(self.prefix + "/api/"):
                return 404, {"message": "Not found"}
            route = path[len(self.prefix) + len("/api/") :]
            if route == "health":  # Grafana answers /api/health without authentication
                return 200, {"commit": "abc", "database": "ok", "version": "11.3.0"}
            if auth != f"Bearer {TOKEN}":
                return 401, {"message": "Invalid API key", "traceID": ""}
            if self.forbidden:
                return 403, {"message": "Permission denied"}
            return self._route(method, route, body)

    def _route(self, method: str, route: str, body: Any) -> tuple[int, Any]:
        parts = route.split("/")
        if parts[0] == "datasources":
            return self._datasources(method, parts[1:], body)
        if parts[0] == "folders":
            return self._folders(method, parts[1:], body)
        if route == "dashboards/db" and method == "POST":
            return self._save_dashboard(body)
        return 404, {"message": "Not found"}

    def _datasources(self, method: str, parts: list[str], body: Any) -> tuple[int, Any]:
        missing = (404, {"message": "Data source not found"})
        if method == "POST" and not parts:
            if any(ds["name"] == body["name"] for ds in self.datasources.values()):
                return 409, {"message": "data source with the same name already exists"}
            added = {**body, "id": len(self.datasources) + 1, "orgId": 1, "version": 1}
            added.setdefault("readOnly", False)
            self.datasources[body["uid"]] = added
            return 200, {"datasource": added, "id": added["id"], "message": "Datasource added"}
        if method == "GET" and parts[0] == "uid":
            return (200, self.datasources[parts[1]]) if parts[1] in self.datasources else missing
        if method == "GET" and parts[0] == "name":
            named = [ds for ds in self.datasources.values() if ds["name"] == unquote(parts[1])]
            return (200, named[0]) if named else missing
        if method == "PUT" and parts[0] == "uid":
            if (ds := self.datasources.get(parts[1])) is None:
                return missing
            if ds["readOnly"]:
                return 403, {"message": "Cannot update read-only data source"}
            if body.get("version", ds["version"]) != ds["version"]:
                return 409, {"message": "Datasource has already been updated by someone else"}
            ds.update(body, version=ds["version"] + 1)
            return 200, {"datasource": ds, "id": ds["id"], "message": "Datasource updated"}
        return 404, {"message": "Not found"}

    def _folders(self, method: str, parts: list[str], body: Any) -> tuple[int, Any]:
        if method == "POST" and not parts:
            if body["uid"] in self.folders:
                return 409, {"message": "a folder with the same uid already exists"}
            created = {"id": len(self.folders) + 1, "version": 1, **body}
            self.folders[body["uid"]] = created
            return 200, created
        folder = self.folders.get(parts[0]) if parts else None
        if folder is None:
            return 404, {"message": "folder not found", "status": "not-found"}
        if method == "GET":
            return 200, folder
        if method == "PUT":
            folder.update(title=body["title"], version=folder["version"] + 1)
            return 200, folder
        return 404, {"message": "Not found"}

    def _save_dashboard(self, body: Any) -> tuple[int, Any]:
        if self.fail_dashboards_with is not None:
            return self.fail_dashboards_with, {"message": "database is locked"}
        board = body["dashboard"]
        if body.get("folderUid") not in self.folders:
            return 400, {"message": "folder not found"}
        if board.get("id") is not None:
            return 400, {"message": "dashboard id must be null to save by uid"}
        old = self.dashboards.get(board["uid"])
        if old is not None and not body.get("overwrite"):
            return 412, {"message": "The dashboard has been changed by someone else"}
        version = old["version"] + 1 if old else 1
        uid = board["uid"]
        self.dashboards[uid] = {**body, "version": version}
        number = list(self.dashboards).index(uid) + 1
        answer = {"id": number, "uid": uid, "url": f"/d/{uid}", "status": "success"}
        return 200, {**answer, "version": version, "slug": uid}


class _Handler(BaseHTTPRequestHandler):
    server: RecordingGrafana

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        status, answer = self.server.answer(
            self.command, self.path, body, self.headers.get("Authorization")
        )
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[RecordingGrafana]:
    recording = RecordingGrafana()
    thread = threading.Thread(target=recording.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield recording
    recording.shutdown()
    recording.server_close()
    thread.join()


def provision(server: RecordingGrafana, *extra: str, token: str = TOKEN) -> int:
    return grafana.main(["provision", "--url", server.url, "--token", token, *extra])


def run_module(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != grafana.TOKEN_ENV}
    return subprocess.run(
        [sys.executable, "-m", "monitoring.grafana", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )


DASHBOARD_SAVES = [("POST", "/api/dashboards/db")] * 4


# --- provisioning ----------------------------------------------------------------------------


def test_first_run_creates_everything(
    server: RecordingGrafana, capsys: pytest.CaptureFixture[str]
) -> None:
    assert provision(server, "--prometheus-url", "http://prom:9090") == 0
    assert server.calls() == [
        ("GET", "/api/health"),
        ("GET", "/api/datasources/uid/qms-prometheus"),
        ("GET", "/api/datasources/name/QMS%20Prometheus"),
        ("POST", "/api/datasources"),
        ("GET", "/api/folders/qms"),
        ("POST", "/api/folders"),
        *DASHBOARD_SAVES,
    ]
    assert {r.authorization for r in server.requests} == {f"Bearer {TOKEN}"}
    created = server.requests[3].body
    assert created["uid"] == DATASOURCE_UID
    assert (created["type"], created["url"], created["access"]) == (
        "prometheus",
        "http://prom:9090",
        "proxy",
    )
    assert server.requests[5].body == {"title": FOLDER_TITLE, "uid": "qms"}
    saves = [r.body for r in server.requests[6:]]
    assert [s["dashboard"]["uid"] for s in saves] == UIDS
    for save in saves:
        assert save["folderUid"] == "qms"
        assert save["overwrite"] is True
        assert save["dashboard"] == all_dashboards()[save["dashboard"]["uid"]]
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 6
    assert all("created" in line for line in out)


def test_second_run_updates_without_duplicates(
    server: RecordingGrafana, capsys: pytest.CaptureFixture[str]
) -> None:
    assert provision(server) == 0
    first = len(server.requests)
    assert provision(server, "--prometheus-url", "http://prometheus.internal:9090") == 0
    assert server.calls()[first:] == [
        ("GET", "/api/health"),
        ("GET", "/api/datasources/uid/qms-prometheus"),
        ("PUT", "/api/datasources/uid/qms-prometheus"),
        ("GET", "/api/folders/qms"),
        *DASHBOARD_SAVES,
    ]
    assert list(server.datasources) == [DATASOURCE_UID]
    assert server.datasources[DATASOURCE_UID]["url"] == "http://prometheus.internal:9090"
    assert list(server.folders) == ["qms"]
    assert sorted(server.dashboards) == sorted(UIDS)
    assert {d["version"] for d in server.dashboards.values()} == {2}
    out = capsys.readouterr().out
    assert "folder qms: không đổi / unchanged" in out
    assert f"dashboard {UIDS[0]}: đã cập nhật / updated (version 2)" in out


def test_update_keeps_settings_made_in_grafana(server: RecordingGrafana) -> None:
    server.datasources[DATASOURCE_UID] = dict(
        id=7, orgId=1, uid=DATASOURCE_UID, name="QMS Prometheus", type="prometheus",
        access="proxy", url="http://old:9090", basicAuth=True, basicAuthUser="grafana",
        isDefault=True, jsonData={"httpMethod": "GET", "cacheLevel": "High"}, readOnly=False,
        version=3,
    )  # fmt: skip
    assert provision(server) == 0
    (put,) = [r for r in server.requests if r.method == "PUT"]
    assert put.body["version"] == 3
    assert "id" not in put.body and "readOnly" not in put.body
    ds = server.datasources[DATASOURCE_UID]
    assert (ds["basicAuth"], ds["basicAuthUser"], ds["isDefault"]) == (True, "grafana", True)
    assert ds["jsonData"] == {"httpMethod": "POST", "cacheLevel": "High", "timeInterval": "15s"}
    assert ds["url"] == "http://localhost:9090"


def test_file_provisioned_datasource_is_left_alone(
    server: RecordingGrafana, capsys: pytest.CaptureFixture[str]
) -> None:
    server.datasources[DATASOURCE_UID] = dict(
        id=1, uid=DATASOURCE_UID, name="QMS Prometheus", url="http://file:9090", readOnly=True,
        version=1,
    )  # fmt: skip
    assert provision(server) == 0
    assert ("PUT", "/api/datasources/uid/qms-prometheus") not in server.calls()
    assert "read-only" in capsys.readouterr().out


def test_folder_is_renamed_not_duplicated(server: RecordingGrafana) -> None:
    assert provision(server) == 0
    first = len(server.requests)
    assert provision(server, "--folder", "Giám sát QMS") == 0
    folder_calls = [c for c in server.calls()[first:] if "/folders" in c[1]]
    assert folder_calls == [("GET", "/api/folders/qms"), ("PUT", "/api/folders/qms")]
    assert server.folders["qms"]["title"] == "Giám sát QMS"
    assert len(server.folders) == 1


def test_a_namesake_datasource_with_another_uid_is_not_overwritten(
    server: RecordingGrafana, capsys: pytest.CaptureFixture[str]
) -> None:
    server.datasources["abc123"] = {"id": 1, "uid": "abc123", "name": "QMS Prometheus"}
    assert provision(server) == grafana.EXIT_REFUSED
    assert ("POST", "/api/datasources") not in server.calls()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "abc123" in err[0]


def test_grafana_path_prefix(server: RecordingGrafana) -> None:
    server.prefix = "/grafana"
    assert grafana.main(["provision", "--url", server.url, "--token", TOKEN]) == 0
    assert all(path.startswith("/grafana/api/") for _, path in server.calls())


def test_rejected_token_is_one_sentence_and_exit_2(server: RecordingGrafana) -> None:
    result = run_module("provision", "--url", server.url, "--token", "wrong")
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert "401" in line and "rejected the token" in line
    assert "Traceback" not in result.stderr
    assert server.calls() == [
        ("GET", "/api/health"),
        ("GET", "/api/datasources/uid/qms-prometheus"),
    ]
    assert server.requests[1].authorization == "Bearer wrong"


def test_token_without_permission_is_exit_2(
    server: RecordingGrafana, capsys: pytest.CaptureFixture[str]
) -> None:
    server.forbidden = True
    assert provision(server) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "403" in line and "Admin" in line


def test_unreachable_grafana_is_one_sentence_and_exit_2() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_module("provision", "--url", f"http://127.0.0.1:{port}", "--token", TOKEN)
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert "Cannot reach Grafana" in line and "connection refused" in line
    assert "Traceback" not in result.stderr


def test_grafana_that_never_answers_times_out(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        code = grafana.main(["provision", "--url", url, "--token", TOKEN, "--timeout", "0.3"])
    assert code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "no answer in time" in line


def test_refused_change_is_exit_1(
    server: RecordingGrafana, capsys: pytest.CaptureFixture[str]
) -> None:
    server.fail_dashboards_with = 500
    assert provision(server) == grafana.EXIT_REFUSED
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "HTTP 500: database is locked" in line


def test_server_that_is_not_grafana(server: RecordingGrafana) -> None:
    root = server.url
    server.prefix = "/elsewhere"  # /api/health and everything else under root answer 404
    assert grafana.main(["provision", "--url", root, "--token", TOKEN]) == 2
    assert server.calls() == [("GET", "/api/health")]


@pytest.mark.parametrize("url", ["ftp://host", "grafana:3000", "http://host:notaport"])
def test_bad_url_is_exit_2(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert grafana.main(["provision", "--url", url, "--token", TOKEN]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "Invalid Grafana URL" in line


def test_token_is_required_and_help_is_bilingual() -> None:
    missing = run_module("provision", "--url", "http://127.0.0.1:9")
    assert missing.returncode == 2
    assert "--token" in missing.stderr
    shown = run_module("provision", "--help")
    assert shown.returncode == 0
    text = " ".join(shown.stdout.split())
    assert "chạy lại nhiều lần vẫn an toàn" in text
    assert "Create or update the Prometheus data source" in text
    assert "Mã thoát / exit codes" in text
