"""``durability``: what a Redis crash costs under the app's load, per ``appendfsync`` setting.

Method (docs/reliability.md has the figures and the choice they led to):

1. For each setting of ``--fsync`` (default: ``everysec`` then ``always``), a Redis with AOF
   on a free loopback port and the real app (uvicorn, one worker) in front of it.
2. Load: ``--clients`` HTTP clients issue kiosk tickets (each with its own Idempotency-Key)
   at four centers as fast as the app answers; a display socket per center is connected
   (``--no-displays``: none), so the app's hub sees every event as it would in a lobby.
3. Steady rate: ``--seconds`` of that load without faults (tickets per second), split in
   rounds that alternate between the settings (A B B A …) so the machine's drift hits each
   alike; the median round is reported.
4. ``--cycles`` times: the load runs 0.5–1.5 s, Redis is killed with SIGKILL and started
   again at once from its AOF; the time from the kill to the first ticket issued again is
   the recovery.
5. Afterwards every acknowledged ticket is looked up in Redis: **lost** when it is missing,
   **reissued** when its number now belongs to another ticket (the stored secret is not the
   one the answer carried): the number was handed out twice. Answers other than 201 and 503
   (a 500, a reset connection) are counted too: there must be none.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect as ws_connect

from queue_server.accounts import AccountStore
from queue_server.auth import Role, TokenSigner
from queue_server.embedded import EmbeddedRedis
from queue_server.keys import ticket_key
from queue_server.redis_client import close, connect
from queue_server.script_runner import ScriptRunner
from simulations.bench import Benchmark
from simulations.bench._api_stack import ApiServer

CENTERS = ("07054", "07060", "06799", "06862")
SERVICE = "certification"
ROUNDS = 4


@dataclass
class Tally:
    statuses: Counter[str] = field(default_factory=Counter)
    issued: list[tuple[str, str]] = field(default_factory=list)   # (ticket id, secret)
    last_ok: float = 0.0    # when the last request that succeeded was sent


async def issue_forever(base: str, kiosks: dict[str, str], tally: Tally,
                        stop: asyncio.Event) -> None:
    rng = random.Random()
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        while not stop.is_set():
            center = rng.choice(CENTERS)
            sent = time.monotonic()
            try:
                answer = await http.post(
                    f"/api/v1/centers/{center}/tickets", json={"service": SERVICE},
                    headers={"Authorization": f"Bearer {kiosks[center]}",
                             "Idempotency-Key": uuid.uuid4().hex})
            except httpx.HTTPError as error:
                tally.statuses[type(error).__name__] += 1
                await asyncio.sleep(0.02)
                continue
            tally.statuses[str(answer.status_code)] += 1
            if answer.status_code == 201:
                body = answer.json()
                tally.issued.append((body["ticket"]["id"], body["token"]))
                tally.last_ok = max(tally.last_ok, sent)
            else:
                await asyncio.sleep(0.02)


async def watch(url: str, stop: asyncio.Event) -> None:
    """A lobby screen: keeps its socket open, reconnecting as a page would."""
    while not stop.is_set():
        try:
            async with ws_connect(url, subprotocols=["qms.json"]) as ws:  # type: ignore[list-item]
                while not stop.is_set():
                    try:
                        await asyncio.wait_for(ws.recv(), 0.5)
                    except TimeoutError:
                        continue
        except Exception:  # closed with 1013 during the outage, refused while Redis is away
            await asyncio.sleep(0.2)


async def devices(url: str) -> tuple[dict[str, str], dict[str, str]]:
    client = connect(url)
    try:
        store = AccountStore(ScriptRunner(client, batch=False))
        await store.runner.load()
        kiosks = {c: (await store.create_device(Role.KIOSK, c, "bench"))[1] for c in CENTERS}
        displays = {c: (await store.create_device(Role.DISPLAY, c, "bench"))[1]
                    for c in CENTERS}
        return kiosks, displays
    finally:
        await close(client)


async def audit(url: str, secret: str, issued: list[tuple[str, str]]) -> dict[str, int]:
    signer = TokenSigner(secret, 3600)
    client = connect(url)
    try:
        pipe = client.pipeline(transaction=False)
        for ticket_id, _ in issued:
            pipe.hget(ticket_key(ticket_id.split("-", 1)[0], ticket_id), "h")
        stored = await pipe.execute()
    finally:
        await close(client)
    lost = reissued = 0
    for (_, token), held in zip(issued, stored, strict=True):
        if held is None:
            lost += 1
        elif held.decode() != signer.secret_hash(token.removeprefix("tk."), "ticket"):
            reissued += 1
    ids = Counter(ticket_id for ticket_id, _ in issued)
    return {"acknowledged": len(issued), "lost": lost, "reissued": reissued,
            "answered_twice": sum(n - 1 for n in ids.values() if n > 1)}


@dataclass
class Stack:
    """One setting's Redis and app, with the devices the load uses."""

    fsync: str
    redis: EmbeddedRedis
    server: ApiServer
    kiosks: dict[str, str]
    displays: dict[str, str]

    @classmethod
    async def open(cls, fsync: str, folder: Path) -> Stack:
        redis = EmbeddedRedis(folder / f"redis-{fsync}", appendfsync=fsync).start()
        server = ApiServer(redis.url, folder / f"app-{fsync}")
        await asyncio.to_thread(server.start)
        kiosks, displays = await devices(redis.url)
        return cls(fsync, redis, server, kiosks, displays)

    def load(self, args: argparse.Namespace, tally: Tally,
             stop: asyncio.Event) -> list[asyncio.Task[None]]:
        base = f"http://127.0.0.1:{self.server.port}"
        tasks = [asyncio.create_task(issue_forever(base, self.kiosks, tally, stop))
                 for _ in range(args.clients)]
        if args.displays:
            ws = f"ws://127.0.0.1:{self.server.ws_port}/ws/display"
            tasks += [asyncio.create_task(watch(f"{ws}/{c}?token={self.displays[c]}", stop))
                      for c in CENTERS]
        return tasks

    def close(self) -> None:
        self.server.stop()
        self.redis.stop()


async def steady_rate(stack: Stack, args: argparse.Namespace, seconds: float) -> float:
    tally, stop = Tally(), asyncio.Event()
    tasks = stack.load(args, tally, stop)
    await asyncio.sleep(0.5)   # warm-up: connections, sockets
    before, started = len(tally.issued), time.monotonic()
    await asyncio.sleep(seconds)
    rate = (len(tally.issued) - before) / (time.monotonic() - started)
    stop.set()
    await asyncio.gather(*tasks)
    return rate


async def kill_cycles(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    tally, stop = Tally(), asyncio.Event()
    tasks = stack.load(args, tally, stop)
    recoveries, lossy, bad_so_far = [], 0, 0
    for _ in range(args.cycles):
        await asyncio.sleep(random.uniform(0.5, 1.5))
        acked_before = len(tally.issued)
        killed = time.monotonic()
        stack.redis.kill()
        stack.redis.start()
        while tally.last_ok <= killed and time.monotonic() - killed < 30:
            await asyncio.sleep(0.01)
        recoveries.append(time.monotonic() - killed)
        found = await audit(stack.redis.url, stack.server.secret_key,
                            tally.issued[:acked_before])
        bad = found["lost"] + found["reissued"]
        lossy += bad > bad_so_far
        bad_so_far = bad
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.gather(*tasks)
    result = await audit(stack.redis.url, stack.server.secret_key, tally.issued)
    recoveries.sort()
    return {"kills": args.cycles, "kills_losing_acknowledged": lossy, **result,
            "recovery_s": {"median": round(recoveries[len(recoveries) // 2], 3),
                           "max": round(recoveries[-1], 3)} if recoveries else {},
            "answers": dict(tally.statuses)}


async def measure(args: argparse.Namespace, folder: Path) -> list[dict[str, Any]]:
    stacks = [await Stack.open(fsync, folder) for fsync in args.fsync]
    try:
        # The rates in alternating rounds (A B, B A, …): the machine's drift hits all alike.
        rates: dict[str, list[float]] = {stack.fsync: [] for stack in stacks}
        for round_ in range(ROUNDS):
            for stack in stacks if round_ % 2 == 0 else stacks[::-1]:
                rates[stack.fsync].append(await steady_rate(stack, args, args.seconds / ROUNDS))
        rows = []
        for stack in stacks:
            row = {"appendfsync": stack.fsync,
                   "rate_per_s": round(statistics.median(rates[stack.fsync]), 1),
                   "rates": [round(r, 1) for r in rates[stack.fsync]]}
            row.update(await kill_cycles(stack, args))
            rows.append(row)
        return rows
    finally:
        for stack in stacks:
            stack.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="qms-durability-") as tmp:
        results = asyncio.run(measure(args, Path(tmp)))
    return {"settings": results, "clients": args.clients, "displays": args.displays}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fsync", nargs="+", default=["everysec", "always"],
                        choices=["everysec", "always", "no"])
    parser.add_argument("--cycles", type=int, default=12, help="SIGKILLs per setting")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--no-displays", dest="displays", action="store_false")


def render(result: dict[str, Any]) -> str:
    lines = [f"durability: Redis SIGKILLed under the app's load ({result['clients']} clients, "
             f"displays {'on' if result['displays'] else 'off'})"]
    for row in result["settings"]:
        bad = {k: v for k, v in row["answers"].items() if k not in ("201", "503")}
        lines.append(
            f"  appendfsync {row['appendfsync']:<8} {row['rate_per_s']:>7} tickets/s; "
            f"{row['kills']} kills, {row['kills_losing_acknowledged']} lost acknowledged "
            f"work; {row['lost']} lost + {row['reissued']} numbers reissued of "
            f"{row['acknowledged']} acknowledged; recovery median "
            f"{row['recovery_s'].get('median')} s, max {row['recovery_s'].get('max')} s; "
            f"other answers {bad or 'none'}")
    return "\n".join(lines)


BENCH = Benchmark(
    name="durability",
    summary="acknowledged tickets lost or reissued when Redis is SIGKILLed under load, "
    "appendfsync everysec vs always",
    description=__doc__ or "",
    add_arguments=add_arguments,
    run=run,
    render=render,
)

if __name__ == "__main__":  # pragma: no cover
    sys.exit("run it as: python -m simulations.bench durability")
