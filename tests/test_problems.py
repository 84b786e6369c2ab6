"""Problem answers to the letter of docs/api.md (issue 12, item 6): every refusal carries
``type``, ``title``, ``status``, ``reason``, ``fields`` and a "Vietnamese — English"
``detail`` from the catalogue; every 422 has ``errors``; one kind of bad body gets one status
on every route that takes a body (empty: 422, not JSON: 400, JSON but not an object: 422);
browsers get an HTML page for an unknown page, API clients a problem."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from queue_server import messages
from tests.live import Bootstrap, LiveServer, login
from tests.pages import off_loop

CENTER = "06978"  # a center no other test uses
TICKET = f"{CENTER}-20200101-A001"


@pytest.fixture(scope="module")
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    supervisor = "pb" + CENTER
    off_loop(Bootstrap(live_server.redis_url).account, supervisor, "supervisor", CENTER)
    token = login(live_server, supervisor)
    with httpx.Client(base_url=live_server.base_url, timeout=10,
                      headers={"Authorization": f"Bearer {token}",
                               "X-Forwarded-For": "10.9.8.7"}) as client:
        yield client


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    for member in ("type", "title", "status", "reason", "fields", "detail"):
        assert member in body, (member, body)
    assert body["type"].startswith("/problems/") and body["status"] == status
    assert messages.has(body["reason"]), body["reason"]
    vietnamese, _, english = body["detail"].partition(" — ")
    assert vietnamese and english and not vietnamese.isascii(), body["detail"]
    assert vietnamese == messages.render(body["reason"], body["fields"], "vi") or (
        body["reason"] in ("body_invalid",))
    if status == 422:
        assert body["errors"] and all({"field", "reason", "problem"} <= set(e)
                                      for e in body["errors"]), body
    return body


def body_routes(http: httpx.Client) -> list[tuple[str, str]]:
    spec = http.get("/openapi.json").json()
    routes = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if "requestBody" in operation:
                concrete = (path.replace("{center_id}", CENTER).replace("{counter_id}", "1")
                            .replace("{ticket_id}", TICKET))
                routes.append((method.upper(), concrete))
    assert len(routes) >= 10
    return routes


def test_one_status_for_each_kind_of_bad_body_on_every_route(http: httpx.Client) -> None:
    json_type = {"Content-Type": "application/json"}
    for method, path in body_routes(http):
        empty = http.request(method, path, content=b"", headers=json_type)
        assert assert_problem(empty, 422)["errors"][0]["field"] == "body", (method, path)
        assert_problem(http.request(method, path, content=b"{not json", headers=json_type), 400)
        assert_problem(http.request(method, path, content=b"[1, 2]", headers=json_type), 422)


@pytest.mark.parametrize(("method", "path", "options", "reason"), [
    ("GET", f"/api/v1/centers/{CENTER}/live?tickets=500", {}, "tickets_out_of_range"),
    ("POST", "/api/v1/bookings", {"json": {"center": CENTER, "service": "land"},
                                  "headers": {"Idempotency-Key": "short"}},
     "booking_key_too_short"),
    ("POST", f"/api/v1/centers/{CENTER}/counters/1/open",
     {"json": {}, "headers": {"Idempotency-Key": "x" * 129}}, "field_too_long"),
    ("POST", "/api/v1/qr", {"json": {"data": "ftp://example.org/x"}}, "qr_link_malformed"),
    ("GET", f"/api/v1/centers/{CENTER}/announcement?number=A-1&counter=1", {},
     "ticket_number_malformed"),
    ("GET", f"/api/v1/centers/{CENTER}/announcement?number=A001&counter=1&voice=x", {},
     "unknown_voice"),
    ("GET", "/api/v1/public/tickets/not-a-ticket", {}, "ticket_id_malformed"),
    ("POST", "/api/v1/staff", {"json": {"username": "ab", "password": "x" * 8, "name": "x",
                                        "center": CENTER}}, "field_too_short"),
])
def test_every_422_names_its_fields(http: httpx.Client, method: str, path: str,
                                    options: dict[str, Any], reason: str) -> None:
    body = assert_problem(http.request(method, path, **options), 422)
    assert body["reason"] == reason or any(e["reason"] == reason for e in body["errors"]), body


def test_refusals_name_the_thing_in_vietnamese(http: httpx.Client,
                                               live_server: LiveServer) -> None:
    body = assert_problem(http.get("/api/v1/centers/99999"), 404)
    assert body["reason"] == "no_such_center" and body["fields"] == {"center": "99999"}
    assert body["detail"].startswith("Không có trung tâm 99999")
    other = assert_problem(http.get("/api/v1/centers/06799/live"), 403)
    assert other["reason"] == "other_center" and other["fields"]["own"] == CENTER
    anonymous = httpx.get(live_server.base_url + "/api/v1/province", timeout=10)
    assert assert_problem(anonymous, 401)["reason"] == "login_required"
    unknown = assert_problem(http.get("/api/v1/nothing-here"), 404)
    assert unknown["reason"] == "unknown_path"
    assert_problem(http.delete("/api/v1/services"), 405)


def test_browsers_get_a_page_and_api_clients_a_problem(live_server: LiveServer) -> None:
    page = httpx.get(live_server.base_url + "/nowhere", headers={"Accept": "text/html"},
                     timeout=10)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Không tìm thấy" in page.text and 'href="/"' in page.text
    api = httpx.get(live_server.base_url + "/nowhere", headers={"Accept": "application/json"},
                    timeout=10)
    assert_problem(api, 404)
    index = httpx.get(live_server.base_url + "/", headers={"Accept": "text/html"}, timeout=10)
    for page_path in ("/kiosk/", "/display/", "/screen/", "/book", "/t/", "/counter",
                      "/supervisor", "/rating/", "/province", "/docs", "/metrics"):
        assert page_path in index.text, page_path
    docs = httpx.get(live_server.base_url + "/docs", timeout=10).text
    assert "cdn" not in docs.lower() and "/static/site/vendor/swagger-ui/" in docs
    asset = httpx.get(live_server.base_url
                      + "/static/site/vendor/swagger-ui/swagger-ui-bundle.js", timeout=10)
    assert asset.status_code == 200 and len(asset.content) > 1_000_000
    catalogue = httpx.get(live_server.base_url + "/api/v1/messages", timeout=10).json()
    assert catalogue["messages"]["no_such_center"][0].startswith("Không có trung tâm")
