"""The counter console in a real Chromium against the real server, Redis read after every
step: a full day, two counters calling at once, a double press and a lost answer, the keyboard,
an expired login. Centers used only here: 07183, 07168, 07147. Screenshots: test-artifacts/.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, cast

import httpx
import msgpack
import pytest
import redis.asyncio as aioredis
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from playwright import async_api
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from queue_server import keys
from queue_server.records import event_view
from tests.conftest import stored_counter, stored_ticket
from tests.live import SECRET, Bootstrap, LiveServer
from tests.servers import scaled

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "matkhau123"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
expect.set_options(timeout=scaled(10) * 1000)


@pytest.fixture(scope="module", name="browser")
async def browser_fixture() -> AsyncIterator[Browser]:
    async with async_api.async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                    args=CHROMIUM_ARGS, headless=True)
        yield launched
        await launched.close()


class Site:
    """The live server as a test sees it: accounts, kiosk tickets, and Redis read directly."""

    def __init__(self, server: LiveServer, client: aioredis.Redis) -> None:
        self.server = server
        self.redis = client
        self.boot = Bootstrap(server.redis_url)
        self._kiosks: dict[str, str] = {}

    async def account(self, username: str, role: str, center: str) -> str:
        await asyncio.to_thread(self.boot.account, username, role, center, PASSWORD)
        return username

    async def issue(self, center: str, service: str) -> dict[str, Any]:
        if center not in self._kiosks:
            self._kiosks[center] = await asyncio.to_thread(self.boot.device, "kiosk", center)
        async with httpx.AsyncClient(base_url=self.server.base_url) as http:
            response = await http.post(f"/api/v1/centers/{center}/tickets",
                                       json={"service": service},
                                       headers={"Authorization": f"Bearer {self._kiosks[center]}"})
        assert response.status_code == 201, response.text
        ticket: dict[str, Any] = response.json()["ticket"]
        return ticket

    async def counter(self, center: str, counter: str) -> dict[str, str]:
        return await stored_counter(self.server.redis_url, center, counter)

    async def ticket(self, center: str, ticket_id: str) -> dict[str, str]:
        return await stored_ticket(self.server.redis_url, center, ticket_id)

    async def queue(self, center: str, service: str) -> list[str]:
        zrange = self.redis.zrange(keys.center_key(center, "queue", service), 0, -1)
        return await cast(Awaitable[list[str]], zrange)

    async def events(self, center: str, kind: str) -> list[dict[str, Any]]:
        async with aioredis.Redis.from_url(self.server.redis_url) as raw:
            entries = cast(list[Any], await raw.xrange(keys.center_stream_key(center)))
        decoded = [event_view(msgpack.unpackb(fields[b"d"]), center) for _, fields in entries]
        return [event for event in decoded if event["type"] == kind]


@pytest.fixture(scope="module", name="site")
async def site_fixture(live_server: LiveServer) -> AsyncIterator[Site]:
    client = aioredis.Redis.from_url(live_server.redis_url, decode_responses=True)
    yield Site(live_server, client)
    await client.aclose()


async def new_page(browser: Browser, errors: list[str]) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900},
                                        locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
    page = await context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page


async def log_in(page: Page, username: str) -> None:
    await expect(page.locator("#login-view")).to_be_visible()
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#login-button")


async def console(browser: Browser, site: Site, username: str, counter: str,
                  errors: list[str]) -> tuple[BrowserContext, Page]:
    context, page = await new_page(browser, errors)
    await page.goto(site.server.base_url + "/counter")
    await log_in(page, username)
    await page.click(f"button[data-take='{counter}']")
    await expect(page.locator("#console-view")).to_be_visible()
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    return context, page


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def button(page: Page, action: str) -> Locator:
    return page.locator(f"#actions button[data-action='{action}']")


def waiting(page: Page, service: str) -> Locator:
    return page.locator(f"section.queue[data-service='{service}'] .count")


async def test_a_full_day_at_the_counter(browser: Browser, site: Site) -> None:
    center, errors = "07183", list[str]()
    staff = await site.account("cc_day_staff", "staff", center)
    first, second, third = [await site.issue(center, service)
                            for service in ("certification", "certification", "results")]
    context, page = await new_page(browser, errors)
    await page.goto(site.server.base_url + "/counter")
    await log_in(page, staff)
    await expect(page.locator("#picker-view .counter-card")).to_have_count(6)
    await shot(page, "counter-01-picker")

    await page.click("button[data-take='1']")                       # open
    await expect(page.locator("#console-view")).to_be_visible()
    assert (await site.counter(center, "1"))["staff"] == staff
    await expect(waiting(page, "certification")).to_have_text("2")

    await button(page, "call-next").click()                           # call
    await expect(page.locator("#current-number")).to_have_text(first["number"])
    assert (await site.counter(center, "1"))["ticket"] == first["id"]
    assert (await site.ticket(center, first["id"]))["status"] == "called"
    await shot(page, "counter-02-called")

    await button(page, "start").click()                               # start
    await expect(page.locator("#current-status")).to_contain_text("Đang phục vụ")
    assert (await site.ticket(center, first["id"]))["status"] == "serving"
    await page.wait_for_timeout(1100)   # let the timers tick once for the screenshot
    await shot(page, "counter-03-serving")

    await button(page, "complete").click()                            # complete
    await expect(page.locator("#notice")).to_contain_text(f"Đã hoàn thành số {first['number']}")
    assert (await site.ticket(center, first["id"]))["status"] == "done"
    assert (await site.counter(center, "1"))["ticket"] == ""
    await expect(page.locator("#day-served")).to_have_text("1")

    await button(page, "call-next").click()                           # no-show
    await expect(page.locator("#current-number")).to_have_text(second["number"])
    await button(page, "no-show").click()
    await expect(page.locator("#notice")).to_contain_text("vắng mặt")
    assert (await site.ticket(center, second["id"]))["status"] == "no_show"
    await expect(page.locator("#day-no-shows")).to_have_text("1")

    await button(page, "call-next").click()                           # transfer
    await expect(page.locator("#current-number")).to_have_text(third["number"])
    await button(page, "transfer").click()
    await page.select_option("#transfer-service", "land")
    await page.fill("#transfer-note", "Cần xác minh hồ sơ đất")
    await shot(page, "counter-04-transfer-dialog")
    await page.click("#transfer-ok")
    await expect(page.locator("#notice")).to_contain_text(f"Đã chuyển số {third['number']}")
    moved = await site.ticket(center, third["id"])
    new = await site.ticket(center, moved["to"])
    assert (moved["status"], new["service"], new["status"], new["note"]) == (
        "transferred", "land", "waiting", "Cần xác minh hồ sơ đất")
    assert moved["to"] in await site.queue(center, "land")

    await button(page, "pause").click()                               # pause
    await page.check("#pause-reasons input[value='meeting']")
    await page.click("#pause-ok")
    await expect(page.locator("#current")).to_contain_text("Tạm dừng: Họp")
    counter = await site.counter(center, "1")
    assert (counter["state"], counter["reason"]) == ("paused", "meeting")
    await expect(button(page, "call-next")).to_be_disabled()
    await shot(page, "counter-05-paused")

    await button(page, "resume").click()                              # resume
    await expect(button(page, "call-next")).to_be_enabled()
    assert (await site.counter(center, "1"))["state"] == "open"

    chosen = [await site.issue(center, "certification") for _ in range(2)][1]
    row = page.locator(f"li[data-ticket='{chosen['id']}'] button[data-call]")
    await row.click()                                                 # call a chosen ticket
    await expect(page.locator("#current-number")).to_have_text(chosen["number"])
    assert (await site.counter(center, "1"))["ticket"] == chosen["id"]
    for action, ready in (("start", "complete"), ("complete", "call-next")):
        await button(page, action).click()
        await expect(button(page, ready)).to_be_enabled()
    await expect(page.locator("#day-served")).to_have_text("2")

    await button(page, "close").click()                               # close
    await expect(page.locator("#picker-view")).to_be_visible()
    counter = await site.counter(center, "1")
    assert (counter["state"], counter["staff"]) == ("closed", "")
    await shot(page, "counter-06-closed")
    await context.close()
    assert errors == []


async def test_two_counters_calling_at_once_get_different_tickets(
        browser: Browser, site: Site) -> None:
    center, errors = "07168", list[str]()
    a = await site.account("cc_race_a", "staff", center)
    b = await site.account("cc_race_b", "staff", center)
    tickets = [await site.issue(center, "certification") for _ in range(3)]
    ctx_a, page_a = await console(browser, site, a, "1", errors)     # certification, results
    ctx_b, page_b = await console(browser, site, b, "2", errors)     # civil_status, certification
    await expect(waiting(page_b, "certification")).to_have_text("3")

    await asyncio.gather(page_a.keyboard.press("n"), page_b.keyboard.press("n"))
    await expect(page_a.locator("#current-number")).to_have_text(re.compile(r"^B\d{3}$"))
    await expect(page_b.locator("#current-number")).to_have_text(re.compile(r"^B\d{3}$"))
    shown = {await page_a.inner_text("#current-number"), await page_b.inner_text("#current-number")}
    held = {(await site.counter(center, c))["ticket"] for c in ("1", "2")}
    assert len(shown) == 2 and len(held) == 2
    assert held == {tickets[0]["id"], tickets[1]["id"]}
    assert {(await site.ticket(center, t))["status"] for t in held} == {"called"}
    # Each page sees the other's call at once: one ticket left in the shared queue.
    for page in (page_a, page_b):
        await expect(waiting(page, "certification")).to_have_text("1")
    await shot(page_a, "counter-07-race-a")

    # Taking a counter someone holds says that a supervisor must hand it over.
    await page_b.click("#change-counter")
    await page_b.click("button[data-take='1']")
    await expect(page_b.locator("#picker-message")).to_contain_text("cần giám sát viên bàn giao")
    assert (await site.counter(center, "1"))["staff"] == a
    await shot(page_b, "counter-08-taken")
    await ctx_a.close()
    await ctx_b.close()
    assert errors == []


async def test_a_double_press_and_a_lost_answer_call_once(browser: Browser, site: Site) -> None:
    center, errors = "07147", list[str]()
    staff = await site.account("cc_double", "staff", center)
    tickets = [await site.issue(center, "certification") for _ in range(4)]
    context, page = await console(browser, site, staff, "1", errors)

    # Two clicks in the same tick: the second finds the button busy.
    await page.evaluate("""() => { const b = document.querySelector("[data-action='call-next']");
                                   b.click(); b.click(); }""")
    await expect(page.locator("#current-number")).to_have_text(tickets[0]["number"])
    await page.wait_for_timeout(500)
    assert [(await site.ticket(center, t["id"]))["status"] for t in tickets[:2]] == [
        "called", "waiting"]
    await page.keyboard.press("x")
    await expect(button(page, "call-next")).to_be_enabled()

    # Two key presses in the same tick.
    await page.evaluate("""() => { for (const i of [1, 2]) document.dispatchEvent(
        new KeyboardEvent("keydown", {key: "n", bubbles: true})); }""")
    await expect(page.locator("#current-number")).to_have_text(tickets[1]["number"])
    await page.wait_for_timeout(500)
    assert (await site.ticket(center, tickets[2]["id"]))["status"] == "waiting"
    await page.keyboard.press("x")
    await expect(button(page, "call-next")).to_be_enabled()

    # The server acts but its answer is lost: the retry carries the same key and acts once.
    keys_sent: list[str | None] = []

    async def lose_first_answer(route: Any) -> None:
        keys_sent.append(route.request.headers.get("idempotency-key"))
        if len(keys_sent) == 1:
            await route.fetch()
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await page.route("**/counters/1/call-next", lose_first_answer)
    await page.keyboard.press("n")
    # The answer to the retry (a replay of the first) is what reports success.
    await expect(page.locator("#notice")).to_contain_text(f"Đã gọi số {tickets[2]['number']}")
    await expect(page.locator("#current-number")).to_have_text(tickets[2]["number"])
    assert len(keys_sent) == 2 and keys_sent[0] == keys_sent[1] and keys_sent[0]
    assert (await site.ticket(center, tickets[3]["id"]))["status"] == "waiting"
    called = [e for e in await site.events(center, "called") if e["counter"]["id"] == "1"]
    assert [e["ticket"]["id"] for e in called] == [t["id"] for t in tickets[:3]]
    await context.close()
    assert errors == []


async def test_every_frequent_action_has_a_working_shortcut(browser: Browser, site: Site) -> None:
    center, errors = "07147", list[str]()
    staff = await site.account("cc_keys", "staff", center)
    t1, t2, t3 = [await site.issue(center, "land") for _ in range(3)]
    context, page = await console(browser, site, staff, "3", errors)  # land, construction
    for action, key in (("call-next", "N"), ("recall", "R"), ("start", "S"), ("complete", "C"),
                        ("no-show", "X"), ("transfer", "T"), ("pause", "P"), ("resume", "P")):
        await expect(button(page, action).locator("kbd")).to_have_text(key)

    async def status(ticket: dict[str, Any]) -> str:
        return (await site.ticket(center, ticket["id"]))["status"]

    async def press(key: str, ready: str) -> None:
        # A key pressed while a request is in flight is ignored on purpose: wait, as people do.
        await page.keyboard.press(key)
        await expect(button(page, ready)).to_be_enabled()

    await press("n", "recall")
    await expect(page.locator("#current-number")).to_have_text(t1["number"])
    await press("r", "start")
    await expect(page.locator("#notice")).to_contain_text("Đã gọi lại")
    assert (await site.ticket(center, t1["id"]))["recalls"] == "1"
    await press("s", "complete")
    assert await status(t1) == "serving"
    await press("c", "call-next")
    assert await status(t1) == "done"
    await press("n", "no-show")
    await expect(page.locator("#current-number")).to_have_text(t2["number"])
    await press("x", "call-next")
    assert await status(t2) == "no_show"
    await press("n", "transfer")
    await expect(page.locator("#current-number")).to_have_text(t3["number"])
    await page.keyboard.press("t")
    await expect(page.locator("#transfer-dialog")).to_be_visible()
    await page.select_option("#transfer-service", "certification")
    await page.keyboard.press("Enter")
    await expect(button(page, "call-next")).to_be_enabled()
    assert await status(t3) == "transferred"
    await page.keyboard.press("p")
    await expect(page.locator("#pause-dialog")).to_be_visible()
    await page.keyboard.press("3")                     # the third reason: a system problem
    await page.keyboard.press("Enter")
    # Visible as soon as the event arrives, enabled once the pause request has answered:
    # a key pressed in between is ignored on purpose, as in press().
    await expect(button(page, "resume")).to_be_enabled()
    assert (await site.counter(center, "3"))["reason"] == "system"
    await page.keyboard.press("p")
    await expect(button(page, "pause")).to_be_visible()
    assert (await site.counter(center, "3"))["state"] == "open"
    await context.close()
    assert errors == []


def expired_token(username: str, center: str) -> str:
    """A staff token signed with the server's key 13 hours ago (the limit is 12)."""

    class Past(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 13 * 3600
    serializer = URLSafeTimedSerializer(SECRET, salt="qms-staff", signer=Past)
    return "st." + str(serializer.dumps({"u": username, "r": "staff", "c": center}))


async def test_an_expired_login_returns_to_login_and_reoffers_the_action(
        browser: Browser, site: Site) -> None:
    center, errors = "07147", list[str]()
    staff = await site.account("cc_expiry", "staff", center)
    ticket = await site.issue(center, "business")
    context, page = await console(browser, site, staff, "5", errors)  # business, …
    set_token = """(token) => { const s = JSON.parse(localStorage.getItem("qms.session"));
        s.token = token; localStorage.setItem("qms.session", JSON.stringify(s)); }"""

    # Opened with a login the server no longer accepts: straight to the login screen.
    await page.evaluate(set_token, expired_token(staff, center))
    await page.reload()
    await expect(page.locator("#login-message")).to_contain_text("Phiên đăng nhập đã hết hạn")
    await log_in(page, staff)
    await expect(page.locator("#console-view")).to_be_visible()
    await expect(button(page, "call-next")).to_be_enabled()

    # The login expires between two actions: the action is not done, and is offered again.
    await page.evaluate(set_token, expired_token(staff, center))
    await page.keyboard.press("n")
    await expect(page.locator("#login-message")).to_contain_text(
        "Phiên đăng nhập đã hết hạn: thao tác “Gọi số tiếp theo” chưa được thực hiện")
    await expect(page.locator("#username")).to_have_value(staff)
    await shot(page, "counter-09-expired")
    assert (await site.ticket(center, ticket["id"]))["status"] == "waiting"
    assert (await site.counter(center, "5"))["ticket"] == ""

    await page.fill("#password", PASSWORD)
    await page.click("#login-button")
    await expect(page.locator("#reoffer")).to_contain_text("Gọi số tiếp theo")
    await shot(page, "counter-10-reoffered")
    await page.click("#reoffer-do")
    await expect(page.locator("#current-number")).to_have_text(ticket["number"])
    assert (await site.counter(center, "5"))["ticket"] == ticket["id"]
    await context.close()
    assert errors == []
