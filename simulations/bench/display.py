"""``display``: from "call next" to the call on a real lobby display page, and to its audio.

Method (docs/displays.md has the figures):

1. Our own embedded Redis and the real server as production runs it (``ApiServer``: uvicorn
   with uvloop in a child process). One center (``--center``, default 07090, a ward with six
   counters): counter 1 opened by a staff member, ``--calls`` tickets waiting, a display
   device token.
2. Debian's Chromium, headless, started with ``--autoplay-policy=no-user-gesture-required``
   (as docs/displays.md tells lobby TVs to be), opens ``/display/{center}`` at 1920×1080: the
   page decodes msgpack frames, draws the call, chimes, fetches the announcement and its WAV,
   and plays it. Beside it, in this process, a bare ``websockets`` client on the same channel:
   the floor, what the server's fan-out costs without a browser.
3. ``--calls`` times: the counter is freed through the engine (start, complete; not timed),
   then ``POST …/call-next`` goes out on a kept-alive raw HTTP connection, and the wall-clock
   time its bytes are written is the start. The page records ``performance.timeOrigin +
   performance.now()`` when the call is in the DOM (``window.qmsShown``) and when the response
   head of its audio arrives (``window.qmsAudio``: ``fetch()`` resolves on the head, so this
   is the audio's first byte). The next call waits for both (or 15 s).
4. Reported: p50, p99 and max of "shown", "audio first byte" and "announcement answered"
   (the JSON that names the WAV: the server renders before it answers), and of the bare
   client's receipt; ``ratio`` = shown p50 ÷ bare p50 (what the browser adds over the wire).
   Each call has a new number, so every audio is a fresh render, the worst case; a recall
   would hit the cache. Both clocks are this machine's wall clock.

``--seconds`` is not used: this benchmark counts calls (``--calls``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgpack
from websockets.asyncio.client import connect

from queue_server.accounts import AccountStore
from queue_server.auth import Role
from queue_server.embedded import EmbeddedRedis
from queue_server.engine import Engine
from queue_server.province import load_province
from queue_server.redis_client import connect as redis_connect
from queue_server.script_runner import ScriptRunner
from simulations.bench import Benchmark
from simulations.bench._api_stack import HOST, ApiServer
from simulations.bench._http_load import HttpClient

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--autoplay-policy=no-user-gesture-required"]
STAFF = "bench-display"
WAIT_S = 15.0


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None, "mean": None, "n": 0}
    ordered = sorted(values)

    def rank(p: float) -> float:  # nearest rank
        return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]

    return {"p50": round(rank(50), 1), "p99": round(rank(99), 1), "max": round(ordered[-1], 1),
            "mean": round(sum(ordered) / len(ordered), 1), "n": len(ordered)}


async def bare_client(url: str, arrivals: dict[str, int], ready: asyncio.Event) -> None:
    """The floor: when each call's event reaches a plain client of the same channel."""
    async with connect(url) as socket:
        async for message in socket:
            ready.set()
            frame = msgpack.unpackb(message, raw=False)
            event = frame.get("event") or {}
            if frame.get("type") == "event" and event.get("type") == "called":
                arrivals.setdefault(event["ticket"]["number"], time.time_ns())


async def measure(args: argparse.Namespace, server: ApiServer, engine: Engine,
                  display: str, staff_token: str) -> dict[str, Any]:
    from playwright.async_api import async_playwright  # a test dependency: import on use

    center, counter = args.center, "1"
    http = HttpClient(HOST, server.port)
    arrivals: dict[str, int] = {}
    ready = asyncio.Event()
    bare = asyncio.create_task(bare_client(
        f"ws://{HOST}:{server.ws_port}/ws/display/{center}?token={display}", arrivals, ready))
    shown: list[float] = []
    audio: list[float] = []
    answered: list[float] = []
    floor: list[float] = []
    missed: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=args.chromium,
                                                   args=CHROMIUM_ARGS, headless=True)
        page = await browser.new_page(viewport={"width": 1920, "height": 1080})
        await page.goto(f"http://{HOST}:{server.port}/display/{center}?token={display}")
        await page.wait_for_selector("[data-counter]", timeout=30_000)
        await asyncio.wait_for(ready.wait(), 30)
        version = browser.version
        path = f"/api/v1/centers/{center}/counters/{counter}/call-next"
        for index in range(args.calls):
            if index:  # free the counter for the next call
                await engine.start(center, counter, STAFF)
                await engine.complete(center, counter, STAFF)
            await asyncio.sleep(args.gap_ms / 1000)
            sent_ns, answer = await http.post(path, staff_token)
            number = answer["ticket"]["number"]
            try:
                await page.wait_for_function(
                    "n => (window.qmsAudio || []).some(a => a.number === n && !a.recall)"
                    " && window.qmsShown.some(s => s.number === n)",
                    arg=number, timeout=WAIT_S * 1000, polling=5)
            except Exception:
                missed.append(number)
                continue
            got = await page.evaluate(
                "n => [window.qmsShown.find(s => s.number === n).epoch,"
                " window.qmsAudio.find(a => a.number === n)]", number)
            sent_ms = sent_ns / 1e6
            shown.append(got[0] - sent_ms)
            audio.append(got[1]["epochFirstByte"] - sent_ms)
            answered.append(got[1]["epochJson"] - sent_ms)
            if number in arrivals:
                floor.append(arrivals[number] / 1e6 - sent_ms)
        await browser.close()
    bare.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await bare
    p_shown, p_floor = percentiles(shown), percentiles(floor)
    ratio = (round(p_shown["p50"] / p_floor["p50"], 2)
             if p_shown["p50"] and p_floor["p50"] else None)
    return {"shown_ms": p_shown, "audio_first_byte_ms": percentiles(audio),
            "announcement_ms": percentiles(answered), "bare_ws_ms": p_floor,
            "ratio_shown_to_bare_p50": ratio, "missed": missed, "chromium": version}


async def prepare(redis_url: str, center: str, calls: int) -> tuple[Engine, str, Any]:
    client = redis_connect(redis_url)
    runner = ScriptRunner(client, batch=False)
    await runner.load()
    province = load_province()
    engine = Engine(runner, province)
    await engine.sync_province()
    _, display = await AccountStore(runner).create_device(Role.DISPLAY, center, "bench display")
    await engine.open_counter(center, "1", STAFF, force=True)
    service = province.center(center).counters[0].services[0]
    for _ in range(calls):
        await engine.issue(center, service)
    return engine, display, client


def run(args: argparse.Namespace) -> dict[str, Any]:
    if not Path(args.chromium).exists():
        return {"skipped": f"no Chromium at {args.chromium}: install it or pass --chromium"}
    try:
        import playwright.async_api  # noqa: F401  (the test extra: pip install -e '.[test]')
    except ImportError as error:
        return {"skipped": f"playwright is not installed ({error})"}
    with tempfile.TemporaryDirectory(prefix="qms-bench-display-") as folder:
        redis = EmbeddedRedis(Path(folder) / "redis").start()
        server = ApiServer(redis.url, Path(folder) / "server")
        try:
            server.start()

            async def main() -> dict[str, Any]:
                from queue_server.auth import TokenSigner

                engine, display, client = await prepare(redis.url, args.center, args.calls)
                from queue_server.accounts import AccountStore

                login = await AccountStore(engine.runner).sessions.open(
                    STAFF, time.time() + 3600)
                token = TokenSigner(server.secret_key, 3600).staff_token(
                    STAFF, Role.STAFF, args.center, login)
                try:
                    return await measure(args, server, engine, display, token)
                finally:
                    await engine.runner.aclose()
                    await client.aclose()

            result = asyncio.run(main())
        finally:
            server.stop()
            redis.stop()
    result["setup"] = {"center": args.center, "calls": args.calls, "gap_ms": args.gap_ms,
                       "cpus": os.cpu_count(), "loadavg_1min": round(os.getloadavg()[0], 2),
                       "python": platform.python_version()}
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=200, help="calls to time (default 200)")
    parser.add_argument("--center", default="07090", help="center code (default 07090)")
    parser.add_argument("--gap-ms", type=float, default=50.0,
                        help="pause before each call, after the previous one was heard "
                        "(default 50)")
    parser.add_argument("--chromium", default="/usr/bin/chromium",
                        help="the Chromium to drive (default %(default)s; never downloaded)")


def render(result: dict[str, Any]) -> str:
    def line(label: str, p: dict[str, Any]) -> str:
        return (f"  {label:<26} p50 {p['p50']} ms   p99 {p['p99']} ms   max {p['max']} ms"
                f"   (n={p['n']})")

    if "skipped" in result:
        return f"display: skipped: {result['skipped']}"
    setup = result["setup"]
    return "\n".join([
        f"display: {setup['calls']} calls at center {setup['center']}, Chromium "
        f"{result['chromium']} headless, {setup['cpus']} CPUs, load {setup['loadavg_1min']}",
        line("call shown on the page", result["shown_ms"]),
        line("announcement answered", result["announcement_ms"]),
        line("audio first byte", result["audio_first_byte_ms"]),
        line("bare WebSocket client", result["bare_ws_ms"]),
        f"  ratio shown ÷ bare (p50)   {result['ratio_shown_to_bare_p50']}",
        f"  missed (not shown in {WAIT_S:g} s)  {len(result['missed'])}",
    ])


BENCH = Benchmark(
    name="display",
    summary="call next → call shown on a headless Chromium display page, and its audio",
    description=__doc__ or "",
    add_arguments=add_arguments,
    run=run,
    render=render,
)

if __name__ == "__main__":  # pragma: no cover
    sys.exit("run it as: python -m simulations.bench display")
