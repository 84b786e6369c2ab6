"""Helpers for the page tests: a real Chromium (Debian's, never a downloaded one), a center
made ready to call (devices, a staff member, open counters), and screenshots.

Chromium runs with ``--autoplay-policy=no-user-gesture-required``, as docs/displays.md tells
lobby TVs to, so the display's AudioContext runs and calls are really played (into headless
Chromium's null audio sink).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from queue_server.engine import Engine
from queue_server.province import load_province
from queue_server.redis_client import connect
from queue_server.script_runner import ScriptRunner
from tests.conftest import artifacts_dir
from tests.live import Bootstrap, LiveServer, login
from tests.servers import scaled

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
FULL_HD = {"width": 1920, "height": 1080}
HD = {"width": 1280, "height": 720}
PHONE = {"width": 390, "height": 844}
T = TypeVar("T")


class TestBrowser:
    """The launched Chromium, whose pages ignore the pages' Content-Security-Policy: Playwright's
    ``wait_for_function`` evaluates its predicate with ``eval``, which the policy (rightly)
    forbids. ``enforcing`` pages keep the policy: tests/test_pages_everywhere.py loads every
    page that way and fails on any violation."""

    def __init__(self, browser: Any) -> None:
        self.real = browser

    def new_page(self, **options: Any) -> Any:
        return self.real.new_page(**{"bypass_csp": True, **options})

    def new_context(self, **options: Any) -> Any:
        return self.real.new_context(**{"bypass_csp": True, **options})

    def enforcing(self, **options: Any) -> Any:
        """A context that keeps the page's security policy."""
        return self.real.new_context(**options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def chromium() -> Iterator[Any]:
    """For a module's ``browser`` fixture: ``yield from chromium()``."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                              headless=True)
        yield TestBrowser(chromium)
        chromium.close()


def off_loop(function: Callable[..., T], *args: Any) -> T:
    """Run ``function`` in another thread: Playwright's sync API keeps an event loop running
    in this one, so ``asyncio.run`` (Bootstrap, the engine, the renderer) must go elsewhere."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def ms(seconds: float) -> float:
    """A Playwright timeout in milliseconds, scaled like every other wait of the suite."""
    return scaled(seconds) * 1000


def screenshot(page: Any, name: str) -> Path:
    path = artifacts_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


@dataclass
class Center:
    """One center of a live server, with its devices and a logged-in staff member."""

    server: LiveServer
    id: str
    kiosk: str = ""
    display: str = ""
    staff: str = ""
    staff_token: str = ""
    opened: list[str] = field(default_factory=list)

    @classmethod
    def ready(cls, server: LiveServer, center: str, counters: tuple[str, ...] = ("1",)) -> Center:
        boot = Bootstrap(server.redis_url)
        made = cls(server, center, kiosk=off_loop(boot.device, "kiosk", center),
                   display=off_loop(boot.device, "display", center))
        made.staff = f"pages{uuid.uuid4().hex[:10]}"
        off_loop(boot.account, made.staff, "staff", center)
        made.staff_token = login(server, made.staff)
        for counter in counters:
            made.act(counter, "open", json={})
            made.opened.append(counter)
        return made

    def act(self, counter: str, action: str, **kwargs: Any) -> dict[str, Any]:
        response = httpx.post(
            f"{self.server.base_url}/api/v1/centers/{self.id}/counters/{counter}/{action}",
            headers={"Authorization": f"Bearer {self.staff_token}"}, timeout=10, **kwargs)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def issue(self, service: str, priority: str | None = None) -> dict[str, Any]:
        response = httpx.post(
            f"{self.server.base_url}/api/v1/centers/{self.id}/tickets",
            json={"service": service, "priority": priority},
            headers={"Authorization": f"Bearer {self.kiosk}"}, timeout=10)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def clear(self, counter: str) -> None:
        """Finish whatever the counter holds, so the next call-next calls a new ticket."""
        for action in ("start", "complete"):
            httpx.post(
                f"{self.server.base_url}/api/v1/centers/{self.id}/counters/{counter}/{action}",
                headers={"Authorization": f"Bearer {self.staff_token}"}, timeout=10)

    def display_url(self, query: str = "") -> str:
        return (f"{self.server.base_url}/display/{self.id}?token={self.display}"
                + (f"&{query}" if query else ""))


def call_next_with_engine(redis_url: str, center: str, counter: str, staff: str) -> str:
    """Call the next ticket straight through the engine (the HTTP server may be down)."""

    async def call() -> str:
        client = connect(redis_url)
        try:
            runner = ScriptRunner(client, batch=False)
            await runner.load()
            outcome = await Engine(runner, load_province()).call_next(center, counter, staff)
            assert outcome.ticket is not None, "nothing was waiting"
            return outcome.ticket.number
        finally:
            await client.aclose()

    return off_loop(asyncio.run, call())


def wait_board_live(page: Any) -> None:
    """The display has its snapshot: counters drawn, no reconnecting banner."""
    page.wait_for_selector("[data-counter]", timeout=ms(10))
    page.wait_for_function("document.getElementById('status').hidden", timeout=ms(10))
