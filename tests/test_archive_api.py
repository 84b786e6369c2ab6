"""Reports and the audit trail over HTTP, from a real server whose archiver follows its Redis
into PostgreSQL: roles, JSON, CSV and XLSX, bad input as problems; and the embedded path (no
QMS_DATABASE_URL: the server starts its own PostgreSQL under its data folder)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from queue_server.embedded_postgres import EmbeddedPostgres
from tests.archive_support import create_database, postgres_folder
from tests.conftest import artifacts_dir
from tests.live import Bootstrap, LiveServer, login
from tests.pages import HD, chromium
from tests.servers import scaled, start_standalone

A, B = "07054", "07060"
TODAY = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).date().isoformat()


class Site:
    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.base_url, timeout=20)
        tag = uuid.uuid4().hex[:6]
        boot = Bootstrap(server.redis_url)
        self.tokens: dict[str, str] = {}
        self.names: dict[str, str] = {}
        for role, center in (("supervisor", A), ("province", None), ("staff", A)):
            name = self.names[role] = f"ar{role[:3]}{tag}"
            boot.account(name, role, center)
            self.tokens[role] = login(server, name)
        boot.account(f"arsvb{tag}", "supervisor", B)
        self.tokens["supervisor_b"] = login(server, f"arsvb{tag}")

    def get(self, path: str, role: str | None = "province", **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return self.http.get(path, params=params, headers=headers)

    def post(self, path: str, role: str = "supervisor", **body: Any) -> dict[str, Any]:
        response = self.http.post(path, json=body,
                                  headers={"Authorization": f"Bearer {self.tokens[role]}"})
        assert response.is_success, response.text
        return response.json() if response.content else {}

    def wait_for(self, tickets: int, center: str = A, served: int = 0) -> dict[str, Any]:
        deadline = time.monotonic() + scaled(20)
        while True:
            report = self.get("/api/v1/reports", period="day", date=TODAY, center=center)
            total = report.json().get("total", {}) if report.status_code == 200 else {}
            if total.get("tickets", 0) >= tickets and total.get("served", 0) >= served:
                return report.json()  # type: ignore[no-any-return]
            assert time.monotonic() < deadline, report.text
            time.sleep(0.1)


@pytest.fixture(scope="module")
def site(postgres_server: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("archive-api")
    redis = start_standalone(tmp / "redis")
    server = LiveServer(redis.url, tmp / "server", extra_env={
        "QMS_ARCHIVE": "1", "QMS_ARCHIVE_POLL_S": "0.05",
        "QMS_DATABASE_URL": create_database(postgres_server, "api")}).start()
    site = Site(server)
    kiosk_b = Bootstrap(redis.url).device("kiosk", B)
    for service in ("certification", "certification", "results"):
        site.post(f"/api/v1/centers/{A}/tickets", service=service)
    site.http.post(f"/api/v1/centers/{B}/tickets", json={"service": "land"},
                   headers={"Authorization": f"Bearer {kiosk_b}"}).raise_for_status()
    site.post(f"/api/v1/centers/{A}/counters/1/open")
    site.post(f"/api/v1/centers/{A}/counters/1/call-next")
    site.post(f"/api/v1/centers/{A}/counters/1/start")
    site.post(f"/api/v1/centers/{A}/counters/1/complete")
    site.wait_for(3, served=1)           # the completion archived too
    site.wait_for(1, B)
    yield site
    site.http.close()
    server.stop()
    redis.stop()


def test_a_supervisor_reads_their_own_center(site: Site) -> None:
    mine = site.get("/api/v1/reports", "supervisor", period="day", date=TODAY, by="service")
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["centers"] == [A] and body["period"] == {
        "kind": "day", "from": TODAY, "to": TODAY, "days": 1}
    services = {row["service"]: row for row in body["rows"]}
    assert services["certification"]["tickets"] == 2 and services["results"]["tickets"] == 1
    assert body["total"]["served"] == 1 and body["total"]["called"] == 1
    assert services["certification"]["service_name"] == "Chứng thực bản sao, chữ ký"
    other = site.get("/api/v1/reports", "supervisor", center=B)
    assert other.status_code == 403 and other.json()["type"] == "/problems/forbidden"
    assert "thuộc trung tâm 07054, không phải trung tâm 07060" in other.json()["detail"]
    assert site.get("/api/v1/reports", "staff").status_code == 403
    assert site.get("/api/v1/reports", None).status_code == 401


def test_the_province_reads_every_center(site: Site) -> None:
    body = site.get("/api/v1/reports", period="week", date=TODAY, by="center").json()
    centers = {row["center"]: row["tickets"] for row in body["rows"]}
    assert centers == {A: 3, B: 1} and len(body["centers"]) == 54
    assert body["total"]["tickets"] == 4


def test_csv_and_xlsx(site: Site) -> None:
    response = site.get("/api/v1/reports", "supervisor", period="day", date=TODAY,
                        by="staff", format="csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(response.text)))
    assert [line["row"] for line in lines][-1] == "total"
    assert lines[-1]["tickets"] == "3"
    sheet = site.get("/api/v1/reports", "supervisor", period="month", date=TODAY,
                     by="service", format="xlsx")
    assert sheet.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(sheet.content))
    ws = book.active
    assert ws is not None
    assert str(ws["A1"].value).startswith("Báo cáo / Report")
    assert ws["A2"].value == "Mã DV" and ws["A3"].value == "Service"
    values = [[c.value for c in row] for row in ws.iter_rows(min_row=4)]
    assert values[-1][0] == "Tổng / Total" and 3 in values[-1]


@pytest.mark.parametrize(("params", "status", "kind", "words"), [
    ({"period": "range", "from": "2026-03-10", "to": "2026-03-01"}, 422, "invalid-input",
     "The range is inverted: 2026-03-10 is after 2026-03-01"),
    ({"period": "range", "from": "2026-03-10"}, 422, "invalid-input", "'to' is missing"),
    ({"period": "decade"}, 422, "invalid-input", "period"),
    ({"date": "2026-02-30"}, 422, "invalid-input", "date"),
    ({"center": "99999"}, 404, "unknown-center", "There is no center 99999"),
    ({"service": "passports"}, 404, "unknown-service", "There is no service passports"),
    ({"staff": "nobody", "center": A}, 404, "not-found", "no ticket served by nobody here"),
    ({"counter": "9", "center": A}, 404, "unknown-counter", "no counter 9 for these centers"),
    ({"by": "colour"}, 422, "invalid-input", "Group by one of"),
    ({"staff": "a\x00b"}, 422, "invalid-input", "printable"),
])
def test_bad_input_is_a_problem(site: Site, params: dict[str, str], status: int, kind: str,
                                words: str) -> None:
    response = site.get("/api/v1/reports", **params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"/problems/{kind}"
    assert words in response.json()["detail"]


def test_the_audit_trail_of_one_ticket(site: Site) -> None:
    served = site.get(f"/api/v1/centers/{A}/audit", "supervisor", day=TODAY,
                      number="b1")                                 # as typed: B001
    assert served.status_code == 200, served.text
    body = served.json()
    assert body["ticket"]["id"] == f"{A}-{TODAY.replace('-', '')}-B001"
    assert body["ticket"]["status"] == "done"
    assert [e["type"] for e in body["events"]] == ["issued", "called", "started", "completed"]
    assert body["events"][1]["counter"] == "1" and body["events"][0]["at_local"].endswith(
        "+07:00")
    exported = site.get(f"/api/v1/centers/{A}/audit", "province", day=TODAY, number="B001",
                        format="csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["type"] for r in rows] == ["issued", "called", "started", "completed"]
    unknown = site.get(f"/api/v1/centers/{A}/audit", day=TODAY, number="Z999")
    assert unknown.status_code == 404 and unknown.json()["type"] == "/problems/unknown-ticket"
    bad = site.get(f"/api/v1/centers/{A}/audit", day=TODAY, number="??")
    assert bad.status_code == 422 and "ví dụ A023" in bad.json()["detail"]
    other = site.get(f"/api/v1/centers/{B}/audit", "supervisor", day=TODAY, number="K001")
    assert other.status_code == 403


def test_the_pages_and_their_chart_library_are_served(site: Site) -> None:
    for path in ("/reports", "/audit"):
        page = site.http.get(path)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "cdn" not in page.text.lower()
    chart = site.http.get("/static/monitoring/vendor/chartjs/chart.umd.min.js")
    assert chart.status_code == 200 and "Chart.js" in chart.text[:400]
    licence = site.http.get("/static/monitoring/vendor/chartjs/LICENSE.md")
    assert licence.status_code == 200 and "MIT" in licence.text


def test_the_embedded_path(tmp_path_factory: pytest.TempPathFactory) -> None:
    """No QMS_DATABASE_URL: the server starts PostgreSQL under its data folder, archives,
    reports, and stops it with itself."""
    folder = postgres_folder()
    redis = start_standalone(tmp_path_factory.mktemp("embedded-redis"))
    server = LiveServer(redis.url, folder / "data", extra_env={
        "QMS_ARCHIVE": "1", "QMS_ARCHIVE_POLL_S": "0.05"}).start(timeout=60)
    try:
        site = Site(server)
        site.post(f"/api/v1/centers/{A}/tickets", service="land")
        assert site.wait_for(1)["total"]["tickets"] == 1
        assert (folder / "data" / "postgres" / "data" / "PG_VERSION").exists()
        assert (folder / "data" / "postgres" / "url").exists()
        site.http.close()
    finally:
        server.stop()
        redis.stop()
    assert not (folder / "data" / "postgres" / "url").exists()      # stopped with the server
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.mark.browser
def test_the_report_page_draws_its_charts(site: Site, browser: Any) -> None:
    page = browser.new_page(viewport=HD)
    try:
        page.goto(site.server.base_url + "/reports")
        page.fill("#username", site.names["province"])
        page.fill("#password", "matkhau123")
        page.click("#login-form button[type=submit]")
        page.select_option("#period", "week")
        page.click("#controls button[type=submit]")
        page.wait_for_selector("body[data-ready='1']", timeout=scaled(15) * 1000)
        labels = page.evaluate("Chart.getChart('chart-tickets').data.labels")
        assert "Xã Quảng La" in labels
        drawn = page.evaluate("Chart.getChart('chart-tickets').data.datasets[0].data")
        assert sum(drawn) == 4
        assert page.locator("#table tbody tr").count() == 3            # two centers, total
        assert "Tổng / Total" in page.inner_text("#table")
        page.screenshot(path=str(artifacts_dir() / "archive-report.png"), full_page=True)
        # The audit page takes the same login, and searches what the address names.
        page.goto(f"{site.server.base_url}/audit?center={A}&day={TODAY}&number=B001")
        page.wait_for_selector("body[data-ready='1']", timeout=scaled(15) * 1000)
        assert page.locator("#events tbody tr").count() == 4
        assert "Hoàn thành / Completed" in page.inner_text("#events")
        page.screenshot(path=str(artifacts_dir() / "archive-audit.png"), full_page=True)
    finally:
        page.close()
