"""A real Prometheus scrapes two real replicas; every dashboard and alert query answers.

Debian's ``prometheus`` starts on a free port with a temporary configuration: job ``qms``
scraping both replicas every second, and monitoring/rules/qms_alerts.yml loaded. A simulated
hour of traffic goes through the HTTP API in about 15 s (each center's clock, a test-only
offset the scripts add to Redis TIME, moves 5 minutes per round): tickets from kiosks and
online bookings, priority, calls, recalls, no-shows, transfers, cancellations, ratings and
pauses, over a dozen centers. Then one center has citizens waiting with no counter open for
more than twice its target, another a counter paused for over 30 minutes, and one replica
is stopped. Every PromQL expression of the dashboards (``expand_variables``) and of the rules
goes through /api/v1/query: each succeeds with a vector, non-empty, except the two alerts
that must stay quiet while a replica still answers.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from monitoring.dashboards import all_promql_expressions, expand_variables
from monitoring.rules import RULES_FILE
from queue_server.embedded import EmbeddedRedis, free_port
from queue_server.redis_client import connect
from tests.conftest import pin_morning, shift_clock
from tests.live import METRICS_TOKEN, Bootstrap, LiveServer
from tests.servers import scaled, start_standalone, wait_until

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMETHEUS is None or PROMTOOL is None,
                                reason="Debian's prometheus and promtool are needed")

TRAFFIC = ("07054", "07060", "06799", "06862", "07090", "07093", "07081", "06712", "06709",
           "06736", "06994", "06922")
NO_COUNTER = "07192"     # citizens waiting, no counter open, for more than twice the target
PAUSED = "06985"         # a counter paused for more than 30 minutes
ROUNDS, STEP_MS = 12, 300_000            # 12 rounds of 5 simulated minutes: one hour
SERVICES = ("certification", "results", "land")
# Alerts that must stay silent on a healthy stack: the projection keeps up (lag 0), and the
# stack runs without an archive (QMS_ARCHIVE=0, tests/live.py).
QUIET_ALERTS = {"QmsAllReplicasDown", "QmsTargetsAbsent", "QmsProjectionBehind",
                "QmsArchiveLagging", "QmsArchiveDown", "QmsArchiveGap"}


# ---------------------------------------------------------------------- Prometheus


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def query(self, expr: str) -> dict[str, Any]:
        response = httpx.get(self.url + "/api/v1/query", params={"query": expr}, timeout=30)
        body: dict[str, Any] = response.json()
        assert response.status_code == 200 and body["status"] == "success", (expr, body)
        data: dict[str, Any] = body["data"]
        return data

    def value(self, expr: str) -> float:
        result = self.query(expr)["result"]
        assert len(result) == 1, (expr, result)
        return float(result[0]["value"][1])


def start_prometheus(tmp: Path, targets: list[str]) -> Prometheus:
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                   "evaluation_interval": "1s"},
        "rule_files": [str(RULES_FILE)],
        # /metrics needs the scrape token (docs/monitoring.md shows the same job).
        "scrape_configs": [{"job_name": "qms", "static_configs": [{"targets": targets}],
                            "authorization": {"type": "Bearer",
                                              "credentials": METRICS_TOKEN}}],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    log = tmp / "prometheus.log"
    assert PROMETHEUS is not None
    with log.open("ab") as out:
        process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={tmp / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
             "--log.level=warn"], stdout=out, stderr=subprocess.STDOUT, cwd=tmp)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"prometheus exited: {log.read_text()[-2000:]}")
        try:
            return httpx.get(url + "/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, 30, "prometheus to be ready")
    return Prometheus(url, process, log)


# ---------------------------------------------------------------------- traffic


@dataclass
class Desk:
    """One open counter of a traffic center and the staff member at it."""

    center: str
    counter: str
    token: str
    holding: dict[str, Any] | None = None   # the ticket being served (completed next round)


@dataclass
class Traffic:
    base_urls: list[str]
    redis_url: str
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    done: Counter[str] = field(default_factory=Counter)
    kiosks: dict[str, str] = field(default_factory=dict)
    tickets: dict[str, str] = field(default_factory=dict)    # ticket id -> citizen token

    def __post_init__(self) -> None:
        # Idle connections are dropped before uvicorn's 5 s keep-alive ends, or a request could
        # meet a connection the server is closing.
        limits = httpx.Limits(keepalive_expiry=1.0)
        self.https = [httpx.AsyncClient(base_url=url, timeout=30, limits=limits)
                      for url in self.base_urls]

    async def aclose(self) -> None:
        for http in self.https:
            await http.aclose()

    async def send(self, method: str, path: str, token: str | None = None,
                   body: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        http = self.rng.choice(self.https)         # any replica serves any request
        response = await http.request(method, path, json=body or {}, headers=headers)
        assert response.status_code in (200, 201), (path, response.text)
        result: dict[str, Any] = response.json()
        return result

    async def post(self, path: str, token: str | None = None, body: dict[str, Any] | None = None,
                   **headers: str) -> dict[str, Any]:
        return await self.send("POST", path, token, body, **headers)

    async def issue(self, center: str, service: str) -> dict[str, Any]:
        if self.rng.random() < 0.15:
            answer = await self.post("/api/v1/bookings", None,
                                     {"center": center, "service": service},
                                     **{"X-Forwarded-For": f"10.9.{len(self.tickets) % 250}.1"})
            self.done["online"] += 1
        else:
            priority = "elderly" if self.rng.random() < 0.1 else None
            answer = await self.post(f"/api/v1/centers/{center}/tickets", self.kiosks[center],
                                     {"service": service, "priority": priority})
        self.tickets[answer["ticket"]["id"]] = answer["token"]
        self.done["issued"] += 1
        return answer

    async def act(self, desk: Desk, action: str, body: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
        path = f"/api/v1/centers/{desk.center}/counters/{desk.counter}/{action}"
        return await self.post(path, desk.token, body)

    async def work(self, desk: Desk) -> None:
        """Finish the ticket in hand, then call the next one and decide its fate."""
        if desk.holding is not None:
            await self.act(desk, "complete")
            self.done["served"] += 1
            ticket_id = desk.holding["id"]
            desk.holding = None
            if self.rng.random() < 0.7:
                await self.post(f"/api/v1/tickets/{ticket_id}/rating", None,
                                {"level": self.rng.choice((2, 4, 5, 5))},
                                **{"X-Ticket-Token": self.tickets[ticket_id]})
                self.done["rated"] += 1
        if self.rng.random() < 0.12:
            reason = self.rng.choice(("break", "meeting", "system"))
            await self.act(desk, "pause", {"reason": reason})
            await self.act(desk, "resume")
            self.done["paused"] += 1
        called = (await self.act(desk, "call-next")).get("ticket")
        if called is None:
            return
        self.done["called"] += 1
        fate = self.rng.random()
        if fate < 0.15:
            await self.act(desk, "recall")
            self.done["recalled"] += 1
            if fate < 0.08:
                await self.act(desk, "no-show")
                self.done["no_show"] += 1
                return
        await self.act(desk, "start")
        if 0.15 <= fate < 0.23:
            other = next(s for s in SERVICES if s != called["service"])
            moved = await self.act(desk, "transfer", {"to_service": other})
            # The citizen keeps the same token for the new ticket.
            self.tickets[moved["new_ticket"]["id"]] = self.tickets[called["id"]]
            self.done["transferred"] += 1
            return
        desk.holding = called

    async def cancel_one(self, center: str, staff_token: str) -> None:
        waiting = [t for t in self.tickets if t.startswith(center + "-")]
        for ticket_id in reversed(waiting[-3:]):
            response = await self.https[0].post(
                f"/api/v1/tickets/{ticket_id}/cancel",
                headers={"Authorization": f"Bearer {staff_token}"})
            if response.status_code == 200:
                self.done["cancelled"] += 1
                return


async def set_clock(redis_url: str, center: str, offset_ms: int) -> None:
    client = connect(redis_url)
    try:
        await shift_clock(client, center, offset_ms)
    finally:
        await client.aclose()


async def people(boot: Bootstrap, center: str, role: str, count: int) -> list[str]:
    """Login tokens of ``count`` people of ``role`` at ``center``, recorded and signed as
    POST /auth/login does: the driver needs many, and Argon2 hashing and checking dozens of
    passwords would take most of the test's time on a busy machine."""
    return await boot.logins([f"{role[:2]}{center}.{n}" for n in range(count)], role, center)


async def morning(redis_url: str, centers: tuple[str, ...]) -> int:
    client = connect(redis_url)
    try:
        return await pin_morning(client, *centers)
    finally:
        await client.aclose()


async def simulated_hour(traffic: Traffic) -> None:
    boot = Bootstrap(traffic.redis_url)
    clocked = (*TRAFFIC, NO_COUNTER, PAUSED)
    start = await morning(traffic.redis_url, clocked)   # an hour that no day close cuts
    for center in (*TRAFFIC, NO_COUNTER):
        traffic.kiosks[center] = await asyncio.to_thread(boot.device, "kiosk", center)
    desks: list[Desk] = []
    supervisors: dict[str, str] = {}
    for center in TRAFFIC:
        supervisors[center] = (await people(boot, center, "supervisor", 1))[0]
        staff = await people(boot, center, "staff", 2)
        for counter, token in zip(("1", "2"), staff, strict=True):
            # Both counters serve the services the traffic uses (a supervisor's change).
            await traffic.send("PUT", f"/api/v1/centers/{center}/counters/{counter}/services",
                               supervisors[center], {"services": list(SERVICES)})
            desk = Desk(center, counter, token)
            await traffic.act(desk, "open")
            desks.append(desk)
    for _ in range(3):
        await traffic.issue(NO_COUNTER, "land")
    paused = Desk(PAUSED, "1", (await people(boot, PAUSED, "staff", 1))[0])
    await traffic.act(paused, "open")
    await traffic.act(paused, "pause", {"reason": "meeting"})

    for round_ in range(ROUNDS):
        started = time.monotonic()
        for center in TRAFFIC:
            for _ in range(traffic.rng.choice((2, 2, 3))):
                await traffic.issue(center, traffic.rng.choice(SERVICES))
        await asyncio.gather(*(set_clock(traffic.redis_url, center,
                                         start + (round_ + 1) * STEP_MS)
                               for center in clocked))
        await asyncio.gather(*(traffic.work(desk) for desk in desks))
        if round_ % 4 == 3:
            await asyncio.gather(*(traffic.cancel_one(c, supervisors[c]) for c in TRAFFIC[:4]))
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    # The end of the hour: the unstaffed center's first citizens have waited over 2 × 30 min,
    # the paused counter has been paused for over 30 min.
    await set_clock(traffic.redis_url, NO_COUNTER, start + 4_000_000)
    await set_clock(traffic.redis_url, PAUSED, start + 2_000_000)


# ---------------------------------------------------------------------- the stack


@dataclass
class Stack:
    redis: EmbeddedRedis
    first: LiveServer
    second: LiveServer
    prometheus: Prometheus
    done: Counter[str]


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    tmp = tmp_path_factory.mktemp("prometheus")
    store = start_standalone(tmp / "redis")
    env = {"QMS_BOOKING_LIMIT_PER_IP_HOUR": "10000", "QMS_BOOKING_LIMIT_PER_CITIZEN_DAY": "10000"}
    first = LiveServer(store.url, tmp / "r1", extra_env=env)
    second = LiveServer(store.url, tmp / "r2", extra_env=env)
    prometheus = None
    try:
        await asyncio.to_thread(first.start)
        await asyncio.to_thread(second.start)
        prometheus = await asyncio.to_thread(
            start_prometheus, tmp, [f"127.0.0.1:{first.port}", f"127.0.0.1:{second.port}"])
        traffic = Traffic([first.base_url, second.base_url], store.url)
        try:
            await simulated_hour(traffic)
        finally:
            await traffic.aclose()
        await asyncio.sleep(scaled(3.5))            # a few more scrapes of the final state
        yield Stack(store, first, second, prometheus, traffic.done)
    finally:
        if prometheus is not None:
            prometheus.process.terminate()
            try:
                prometheus.process.wait(scaled(10))
            except subprocess.TimeoutExpired:
                prometheus.process.kill()
                prometheus.process.wait()
        first.stop()
        second.stop()
        store.stop()


def both_up(stack: Stack) -> None:
    up = stack.prometheus.query('up{job="qms"}')["result"]
    assert len(up) == 2 and all(r["value"][1] == "1" for r in up), (
        up, stack.prometheus.log.read_text()[-2000:])


# ---------------------------------------------------------------------- the tests


def test_scrapes_report_what_the_traffic_did(stack: Stack) -> None:
    both_up(stack)
    done, prom = stack.done, stack.prometheus
    assert done["issued"] >= 250 and all(done[k] for k in (
        "online", "called", "recalled", "no_show", "transferred", "served", "rated", "paused",
        "cancelled"))

    def total(metric: str, labels: str) -> float:
        return prom.value(f'sum(max by ({labels}) ({metric}{{job="qms"}}))')

    assert total("qms_served_total", "center, service") == done["served"]
    assert total("qms_calls_total", "center, service") == done["called"]
    assert total("qms_no_shows_total", "center, service") == done["no_show"]
    assert total("qms_transfers_total", "center, service") == done["transferred"]
    assert total("qms_cancellations_total", "center, service") == done["cancelled"]
    assert total("qms_ratings_total", "center, service, level") == done["rated"]
    assert total("qms_recalls_total", "center, service") == done["recalled"]
    assert total("qms_tickets_issued_total", "center, service, channel, priority") == (
        done["issued"] + done["transferred"])
    assert total("qms_staff_served_total", "center, staff") == done["served"]
    # Waits are minutes, not milliseconds: the simulated clock moved 5 minutes per round.
    assert prom.value('max(max by (center, service) (qms_wait_seconds_sum{job="qms"}))') > 300
    assert prom.value('max(scrape_duration_seconds{job="qms"})') < 1.0


def _alerts() -> list[tuple[str, str]]:
    document = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    return [(rule.get("alert") or rule["record"], str(rule["expr"]).strip())
            for group in document["groups"] for rule in group["rules"]]


def test_every_query_of_the_dashboards_and_rules_answers(stack: Stack) -> None:
    prom = stack.prometheus
    both_up(stack)
    stack.second.stop()      # one replica down, the other still answering
    wait_until(lambda: prom.query('up{job="qms"} == 0')["result"] or None, 15,
               "Prometheus to see the stopped replica down")
    empty: list[str] = []
    for expr in all_promql_expressions():
        plain = expand_variables(expr, range_="1h", interval="1m")
        data = prom.query(plain)
        assert data["resultType"] == "vector", plain
        if not data["result"]:
            empty.append(plain)
    assert not empty, "dashboard queries without data after an hour of traffic:\n" + "\n".join(
        empty)
    for name, expr in _alerts():
        data = prom.query(expr)
        assert data["resultType"] == "vector", name
        if name in QUIET_ALERTS:
            assert data["result"] == [], (name, data["result"])
        else:
            assert data["result"], f"{name} has no data: {expr}"
    # The alerts point at the right places.
    no_counter = prom.query(dict(_alerts())["QmsNoOpenCounter"])["result"]
    assert {r["metric"]["center"] for r in no_counter} == {NO_COUNTER}
    far = prom.query(dict(_alerts())["QmsWaitFarAboveTarget"])["result"]
    assert (NO_COUNTER, "land") in {(r["metric"]["center"], r["metric"]["service"])
                                    for r in far}
    paused = prom.query(dict(_alerts())["QmsCounterPausedTooLong"])["result"]
    assert {(r["metric"]["center"], r["metric"]["counter"]) for r in paused} == {(PAUSED, "1")}
    down = prom.query(dict(_alerts())["QmsReplicaDown"])["result"]
    assert [r["metric"]["instance"] for r in down] == [f"127.0.0.1:{stack.second.port}"]


def test_promtool_checks_the_rules() -> None:
    assert PROMTOOL is not None
    result = subprocess.run([PROMTOOL, "check", "rules", str(RULES_FILE)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
