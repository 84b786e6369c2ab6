"""The province live view in a real Chromium against the real server.

Log in with a province account, see all 54 centers, watch a call made through the API change
its center's row within a second, sort, mark a center over its target, drill into a center's
counters, services and staff, and come back after the WebSocket drops. Screenshots at
1920×1080 go to test-artifacts/.

Centers used only here: 07135 (calls), 07132 (over target).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from queue_server.redis_client import connect
from tests.conftest import pin_morning, shift_clock
from tests.live import Bootstrap, LiveServer
from tests.pages import FULL_HD, Center, chromium, ms, off_loop, screenshot

pytestmark = pytest.mark.browser

CALLS, LATE = "07135", "07132"
PASSWORD = "matkhau123"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture(scope="module")
def province_user(live_server: LiveServer) -> str:
    name = f"tinh{uuid.uuid4().hex[:10]}"
    off_loop(Bootstrap(live_server.redis_url).account, name, "province", None, PASSWORD)
    return name


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=FULL_HD, locale="vi-VN",
                                  timezone_id="Asia/Ho_Chi_Minh")
    opened = context.new_page()
    yield opened
    context.close()


def log_in(page: Any, server: LiveServer, username: str) -> None:
    page.goto(server.base_url + "/province")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_function("document.querySelectorAll('tbody tr[data-center]').length === 54",
                           timeout=ms(15))


def cell(page: Any, center: str, key: str) -> str:
    value: str = page.get_attribute(f'tr[data-center="{center}"] td[data-key="{key}"]',
                                    "data-value")
    return value


def column(page: Any, key: str) -> list[str]:
    values: list[str] = page.eval_on_selector_all(
        f'tbody tr[data-center] td[data-key="{key}"]', "cells => cells.map(c => c.dataset.value)")
    return values


def set_clock(server: LiveServer, center: str, offset_ms: int | None) -> int:
    """Move the center's clock to ``offset_ms``, or (None) to this morning: the offset."""
    async def shift() -> int:
        client = connect(server.redis_url)
        try:
            if offset_ms is None:
                return await pin_morning(client, center)
            await shift_clock(client, center, offset_ms)
            return offset_ms
        finally:
            await client.aclose()

    return asyncio.run(shift())


@pytest.fixture(scope="module")
def late_center(live_server: LiveServer) -> Iterator[str]:
    """A center whose citizen has waited two hours: its clock runs 2 h ahead (tests only),
    from this morning, so that no day close comes between."""
    morning = off_loop(set_clock, live_server, LATE, None)
    center = off_loop(Center.ready, live_server, LATE, ())
    center.issue("land")
    off_loop(set_clock, live_server, LATE, morning + 7_200_000)
    yield LATE
    off_loop(set_clock, live_server, LATE, 0)


def test_wrong_account_is_refused(page: Any, live_server: LiveServer) -> None:
    staff = f"nv{uuid.uuid4().hex[:10]}"
    off_loop(Bootstrap(live_server.redis_url).account, staff, "staff", CALLS, PASSWORD)
    page.goto(live_server.base_url + "/province")
    page.fill("#username", staff)
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_selector("#login-error:not([hidden])", timeout=ms(10))
    assert "không phải tài khoản cấp tỉnh" in page.inner_text("#login-error")
    page.fill("#password", "sai-mat-khau")
    page.click("#login-button")
    page.wait_for_function(
        "document.getElementById('login-error').textContent.includes('Sai tên đăng nhập')",
        timeout=ms(10))


def test_live_board(page: Any, live_server: LiveServer, province_user: str,
                    late_center: str) -> None:
    center = off_loop(Center.ready, live_server, CALLS)
    for service in ("certification", "results", "certification"):
        center.issue(service)
    errors: list[Any] = []
    page.on("pageerror", lambda error: errors.append(error))
    log_in(page, live_server, province_user)

    # Vietnamese first, English second, with their diacritics.
    heading = page.inner_text("#board h1")
    assert "Giám sát trực tiếp 54 trung tâm" in heading and "Live view" in heading
    assert page.inner_text('th[data-key="longest_wait_s"]').startswith("Chờ lâu nhất")
    assert "Trực tiếp" in page.inner_text("#status")
    assert len(set(column(page, "name"))) == 54
    page.wait_for_function(
        f"document.querySelector('tr[data-center=\"{CALLS}\"] td[data-key=\"waiting\"]')"
        ".dataset.value >= 3", timeout=ms(10))

    # The over-target mark, from the start and in the totals.
    late_row = f'tr[data-center="{late_center}"]'
    assert "over" in (page.get_attribute(late_row, "class") or "")
    assert "▲" in page.inner_text(f'{late_row} td[data-key="longest_wait_s"]')
    assert int(page.inner_text("#total-over")) >= 1
    screenshot(page, "province-board")

    # A call made through the API reaches the row within a second.
    waiting, at_counters = int(cell(page, CALLS, "waiting")), int(cell(page, CALLS,
                                                                        "at_counters"))
    center.act("1", "call-next")
    called_at = time.monotonic()
    page.wait_for_function(
        f"""() => {{
          const row = document.querySelector('tr[data-center="{CALLS}"]');
          return row.querySelector('td[data-key="at_counters"]').dataset.value == {at_counters + 1}
              && row.querySelector('td[data-key="waiting"]').dataset.value == {waiting - 1};
        }}""", timeout=1000)
    assert time.monotonic() - called_at < 1.0

    # Sorting: by waiting, largest first, then smallest first; by name, Vietnamese order.
    page.click('thead th[data-key="waiting"] button >> nth=0')
    waits = [int(v) for v in column(page, "waiting")]
    assert waits == sorted(waits, reverse=True) and waits[0] >= 2
    assert page.get_attribute('thead th[data-key="waiting"] >> nth=0',
                              "aria-sort") == "descending"
    screenshot(page, "province-sorted-by-waiting")
    page.click('thead th[data-key="waiting"] button >> nth=0')
    waits = [int(v) for v in column(page, "waiting")]
    assert waits == sorted(waits)
    assert page.get_attribute('thead th[data-key="waiting"] >> nth=0',
                              "aria-sort") == "ascending"
    page.click('thead th[data-key="longest_wait_s"] button >> nth=0')
    assert column(page, "longest_wait_s")[0] == str(max(int(v) for v in column(
        page, "longest_wait_s")))
    assert page.get_attribute("tbody tr[data-center] >> nth=0", "data-center") == late_center
    page.click('thead th[data-key="name"] button >> nth=0')
    names = column(page, "name")
    assert page.evaluate(
        "names => names.every((n, i) => i === 0 || names[i - 1].localeCompare(n, 'vi') <= 0)",
        names)

    # Drill in: counters, staff and services of the center, from /live.
    page.click(f'tr[data-center="{CALLS}"]')
    page.wait_for_selector("#detail:not([hidden]) #detail-counters tbody tr", timeout=ms(10))
    assert CALLS in page.inner_text("#detail-title")
    counters = page.inner_text("#detail-counters")
    assert "Quầy 1" in counters and center.staff in counters
    assert "Đang mở / Open" in counters and "Đóng / Closed" in counters
    assert "Đang gọi" in counters                                   # the ticket just called
    assert center.staff in page.inner_text("#detail-staff")
    services = page.inner_text("#detail-services")
    assert "Chứng thực bản sao, chữ ký" in services
    summary = page.inner_text("#detail-summary")
    assert "Đang chờ" in summary and "Waiting" in summary
    screenshot(page, "province-detail")

    # The drill-in follows the center live: start serving, and the counter says so.
    center.act("1", "start")
    page.wait_for_function(
        "document.getElementById('detail-counters').textContent.includes('Đang phục vụ')",
        timeout=ms(5))
    page.keyboard.press("Escape")
    page.wait_for_selector("#detail", state="hidden", timeout=ms(5))
    center.act("1", "complete")
    page.wait_for_function(
        f"document.querySelector('tr[data-center=\"{CALLS}\"] td[data-key=\"served_today\"]')"
        ".dataset.value >= 1", timeout=ms(5))
    assert not errors, errors


def test_reconnects_after_the_socket_drops(page: Any, live_server: LiveServer,
                                           province_user: str) -> None:
    """The page shows 'reconnecting', comes back by itself and catches up."""
    connections: list[Any] = []

    def relay(route: Any) -> None:
        route.connect_to_server()
        connections.append(route)

    page.route_web_socket("**/ws/province*", relay)
    log_in(page, live_server, province_user)
    assert len(connections) == 1
    connections[0].close(code=1011, reason="test drop")
    page.wait_for_selector("#reconnecting:not([hidden])", timeout=ms(5))
    assert "Đang kết nối lại" in page.inner_text("#reconnecting")
    assert "Reconnecting" in page.inner_text("#reconnecting")
    screenshot(page, "province-reconnecting")
    # Meanwhile a citizen takes a ticket; the new snapshot after reconnecting has it.
    before = int(cell(page, CALLS, "waiting"))
    kiosk = off_loop(Bootstrap(live_server.redis_url).device, "kiosk", CALLS)
    httpx.post(f"{live_server.base_url}/api/v1/centers/{CALLS}/tickets",
               json={"service": "results"}, headers={"Authorization": f"Bearer {kiosk}"},
               timeout=10).raise_for_status()
    page.wait_for_selector("#reconnecting", state="hidden", timeout=ms(10))
    assert len(connections) == 2
    page.wait_for_function(
        f"document.querySelector('tr[data-center=\"{CALLS}\"] td[data-key=\"waiting\"]')"
        f".dataset.value == {before + 1}", timeout=ms(5))
    assert "Trực tiếp" in page.inner_text("#status")
