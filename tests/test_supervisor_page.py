"""The supervisor page, the rating tablet, and what one screen sees of another's actions, in
a real Chromium against the real server; Redis is read after every step. Centers used only
here: 06778 (supervisor), 06781 (rating tablet), 06793 (other tabs, a ticket taken by
another counter). Screenshots go to test-artifacts/supervisor-*.png and rating-*.png.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.conftest import pin_morning, shift_clock
from tests.test_counter_console import (  # noqa: F401 (fixtures)
    Site,
    browser_fixture,
    button,
    console,
    log_in,
    new_page,
    shot,
    site_fixture,
)

pytestmark = pytest.mark.browser
OVER_TARGET_MS = 40 * 60 * 1000   # the centers' target is 30 minutes


async def test_supervisor_runs_the_center(browser: Browser, site: Site) -> None:
    center, errors = "06778", list[str]()
    boss = await site.account("sp_boss", "supervisor", center)
    a = await site.account("sp_staff_a", "staff", center)
    b = await site.account("sp_staff_b", "staff", center)
    morning = await pin_morning(site.redis, center)     # no day close in the next 40 min
    early = [await site.issue(center, "certification") for _ in range(2)]
    # Later tickets arrive 40 minutes on (the scripts' clock): the first two are over target.
    await shift_clock(site.redis, center, morning + OVER_TARGET_MS)
    late = await site.issue(center, "certification")

    context, page = await new_page(browser, errors)
    await page.goto(site.server.base_url + "/supervisor")
    await log_in(page, boss)
    rows = page.locator("#counter-rows tr")
    await expect(rows).to_have_count(6)
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "live")

    # Tickets past the target are highlighted, and listed.
    queue = page.locator("section.queue[data-service='certification']")
    await expect(queue.locator("li.over")).to_have_count(2)
    for ticket in early:
        await expect(queue.locator(f"li[data-ticket='{ticket['id']}']")).to_have_class("over")
    await expect(queue.locator(f"li[data-ticket='{late['id']}']")).not_to_have_class("over")
    await expect(page.locator("#over-count")).to_have_text("2")
    await expect(page.locator("#over-list li")).to_have_count(2)

    # Open counter 1 for a staff member.
    await rows.nth(0).locator("button[data-op='open']").click()
    await page.fill("#staff-input", a)
    await page.click("#staff-ok")
    await expect(rows.nth(0).locator(".staff")).to_have_text(a)
    counter = await site.counter(center, "1")
    assert (counter["state"], counter["staff"]) == ("open", a)
    await shot(page, "supervisor-01-center")

    # The staff member's console follows what the supervisor does, without reloading.
    ctx_a, page_a = await new_page(browser, errors)
    await page_a.goto(site.server.base_url + "/counter")
    await log_in(page_a, a)
    await page_a.click("button[data-take='1']")          # "continue at this counter"
    await expect(page_a.locator("#live-status")).to_have_attribute("data-state", "live")
    await expect(page_a.locator("section.queue[data-service='land']")).to_have_count(0)

    # Services of counter 1: drop certification, add land (from the next call on).
    await rows.nth(0).locator("button[data-op='services']").click()
    await page.uncheck("#services-list input[value='certification']")
    await page.check("#services-list input[value='land']")
    await page.click("#services-ok")
    await expect(rows.nth(0)).to_contain_text("Đất đai")
    assert (await site.counter(center, "1"))["services"] == "results,land"
    await expect(page_a.locator("section.queue[data-service='land']")).to_have_count(1)
    await expect(page_a.locator("section.queue[data-service='certification']")).to_have_count(0)

    # Move a waiting ticket to another service: it keeps its place (its arrival).
    await queue.locator(f"li[data-ticket='{early[0]['id']}'] button[data-move]").click()
    await page.select_option("#move-service", "land")
    await page.fill("#move-note", "Nhầm dịch vụ")
    await page.click("#move-ok")
    await expect(page.locator("#notice")).to_contain_text(f"Đã chuyển số {early[0]['number']}")
    moved = await site.ticket(center, early[0]["id"])
    new = await site.ticket(center, moved["to"])
    assert (moved["status"], new["service"], new["status"]) == ("transferred", "land", "waiting")
    assert new["arrived"] == moved["arrived"]
    land = page.locator("section.queue[data-service='land']")
    await expect(land.locator(f"li[data-ticket='{moved['to']}']")).to_have_class("over")
    await expect(page_a.locator(f"li[data-ticket='{moved['to']}']")).to_be_visible()

    # Counter 1 calls the moved ticket: the supervisor sees it in the counter's row.
    await page_a.keyboard.press("n")
    await expect(page_a.locator("#current-number")).to_have_text(new["number"])
    await expect(rows.nth(0).locator(".current-ticket")).to_contain_text(new["number"])
    # The call shows as soon as its event arrives; the console takes the next key once the
    # call's own answer is back (a key pressed while a request is in flight is ignored).
    await expect(button(page_a, "no-show")).to_be_enabled()
    await page_a.keyboard.press("x")
    await expect(button(page_a, "call-next")).to_be_enabled()

    # Hand counter 1 over to another staff member: the first console says so at once.
    await rows.nth(0).locator("button[data-op='handover']").click()
    await page.fill("#staff-input", b)
    await page.click("#staff-ok")
    await expect(rows.nth(0).locator(".staff")).to_have_text(b)
    assert (await site.counter(center, "1"))["staff"] == b
    await expect(page_a.locator("#notice")).to_contain_text(f"bàn giao cho {b}")
    await expect(button(page_a, "call-next")).to_be_disabled()
    await shot(page_a, "supervisor-02-console-handed-over")

    # Close it.
    await rows.nth(0).locator("button[data-op='close']").click()
    await expect(rows.nth(0).locator(".state")).to_contain_text("Đã đóng")
    counter = await site.counter(center, "1")
    assert (counter["state"], counter["staff"]) == ("closed", "")
    await shot(page, "supervisor-03-closed")

    # Staff accounts do not get the supervisor's page.
    await page.click("#logout")
    await log_in(page, a)
    await expect(page.locator("#login-message")).to_contain_text("dành cho giám sát viên")
    await ctx_a.close()
    await context.close()
    assert errors == []


async def test_rating_tablet_asks_after_each_completion(browser: Browser, site: Site) -> None:
    center, errors = "06781", list[str]()
    staff = await site.account("rt_staff", "staff", center)
    ticket = await site.issue(center, "certification")
    tablet_ctx, tablet = await new_page(browser, errors)
    response = await tablet.goto(site.server.base_url + "/rating/06781/9")
    assert response is not None and response.status == 404
    await tablet.goto(site.server.base_url + f"/rating/{center}/1")
    await log_in(tablet, staff)
    await expect(tablet.locator("#wait-view")).to_be_visible()
    await expect(tablet.locator("#live-status")).to_have_attribute("data-state", "live")
    await shot(tablet, "rating-01-waiting")

    context, page = await console(browser, site, staff, "1", errors)
    for key, ready in (("n", "start"), ("s", "complete"), ("c", "call-next")):
        await page.keyboard.press(key)
        await expect(button(page, ready)).to_be_enabled()
    await expect(tablet.locator("#ask-view")).to_be_visible()
    await expect(tablet.locator("#ask-number")).to_have_text(ticket["number"])
    await expect(tablet.locator("button.face")).to_have_count(5)
    await shot(tablet, "rating-02-asking")

    await tablet.click("button.face[data-level='5']")
    await expect(tablet.locator("#thanks-view")).to_be_visible()
    await shot(tablet, "rating-03-thanks")
    assert (await site.ticket(center, ticket["id"]))["rating"] == "5"
    await expect(page.locator("#my-day")).to_contain_text("5.00 / 5 (1)")
    await expect(tablet.locator("#wait-view")).to_be_visible(timeout=15000)
    await context.close()
    await tablet_ctx.close()
    assert errors == []


async def test_other_screens_actions_show_at_once(browser: Browser, site: Site) -> None:
    center, errors = "06793", list[str]()
    a = await site.account("ot_staff_a", "staff", center)
    b = await site.account("ot_staff_b", "staff", center)
    tickets = [await site.issue(center, "certification") for _ in range(3)]
    context, page = await console(browser, site, a, "1", errors)   # certification, results
    second = await context.new_page()                               # a second tab, same login
    await second.goto(site.server.base_url + "/counter")
    await expect(second.locator("#console-view")).to_be_visible()
    await second.keyboard.press("n")
    await expect(page.locator("#current-number")).to_have_text(tickets[0]["number"])
    await page.keyboard.press("x")
    await expect(second.locator("#current")).not_to_contain_text(tickets[0]["number"])

    # Counter 2 takes a ticket while counter 1's list is stale (its re-reads are blocked):
    # calling that ticket from counter 1 says another counter took it, and refreshes.
    ctx_b, page_b = await console(browser, site, b, "2", errors)   # civil_status, certification
    await page.route("**/live?tickets=*", lambda route: route.abort())
    taken = page.locator(f"li[data-ticket='{tickets[1]['id']}'] button[data-call]")
    await expect(taken).to_be_enabled()
    await page_b.locator(f"li[data-ticket='{tickets[1]['id']}'] button[data-call]").click()
    await expect(page_b.locator("#current-number")).to_have_text(tickets[1]["number"])
    await expect(page.locator("#notice")).to_contain_text("Không kết nối được máy chủ")
    await page.unroute("**/live?tickets=*")
    await taken.click()
    await expect(page.locator("#notice")).to_contain_text("quầy khác vừa gọi")
    await expect(page.locator(f"li[data-ticket='{tickets[1]['id']}']")).to_have_count(0)
    await shot(page, "counter-11-taken-by-another")
    assert (await site.counter(center, "1"))["ticket"] == ""
    assert (await site.counter(center, "2"))["ticket"] == tickets[1]["id"]
    await ctx_b.close()
    await context.close()
    assert errors == []
