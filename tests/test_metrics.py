"""``/metrics``: the collector's numbers are the engine's, on every replica, and fail fast.

- in process: a scenario through every transition at known centers, then the collector's
  output (parsed back with prometheus_client's own parser) against the counts the scenario
  made and against the engine's snapshot; monotonic staff time; the renderer against
  ``generate_latest``;
- through real servers: two replicas on one Redis answer byte-identical bodies; an unknown
  center is a 404 problem; a Redis that hangs or is gone gives a 503 within about a second.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitoring.collector import (
    CONTENT_TYPE,
    FamiliesCollector,
    Family,
    HistogramFamily,
    read_families,
)
from monitoring.exposition import render
from monitoring.routes import READ_TIMEOUT_S
from queue_server import keys
from queue_server.engine import Engine
from queue_server.metric_layout import SERVICE_BUCKETS_S, WAIT_BUCKETS_S
from tests.conftest import flat_pairs, pin_morning, shift_clock
from tests.live import SCRAPE, Bootstrap, LiveServer, login
from tests.servers import scaled, start_standalone

A, B = "07054", "07060"          # in-process scenario (the engine fixture flushes its Redis)
LIVE = "07090"                   # live servers: a center no other test uses
Series = dict[tuple[str, frozenset[tuple[str, str]]], float]
# Upper bounds allow for the real seconds the steps take on a slow machine (the clock offsets
# give the simulated ones).
SLACK = scaled(5.0)

CONTRACT = {
    "qms_tickets_issued_total": {"center", "service", "channel", "priority"},
    "qms_calls_total": {"center", "service"},
    "qms_recalls_total": {"center", "service"},
    "qms_served_total": {"center", "service"},
    "qms_no_shows_total": {"center", "service"},
    "qms_transfers_total": {"center", "service"},
    "qms_cancellations_total": {"center", "service"},
    "qms_expirations_total": {"center", "service"},
    "qms_ratings_total": {"center", "service", "level"},
    "qms_wait_seconds_bucket": {"center", "service", "le"},
    "qms_wait_seconds_sum": {"center", "service"},
    "qms_wait_seconds_count": {"center", "service"},
    "qms_service_seconds_bucket": {"center", "service", "le"},
    "qms_service_seconds_sum": {"center", "service"},
    "qms_service_seconds_count": {"center", "service"},
    "qms_staff_served_total": {"center", "staff"},
    "qms_staff_service_seconds_bucket": {"center", "staff", "le"},
    "qms_staff_service_seconds_sum": {"center", "staff"},
    "qms_staff_service_seconds_count": {"center", "staff"},
    "qms_staff_recalls_total": {"center", "staff"},
    "qms_staff_no_shows_total": {"center", "staff"},
    "qms_staff_time_seconds_total": {"center", "staff", "activity"},
    "qms_staff_paused_seconds_total": {"center", "staff", "reason"},
    "qms_staff_ratings_total": {"center", "staff", "level"},
    "qms_queue_length": {"center", "service"},
    "qms_queue_oldest_wait_seconds": {"center", "service"},
    "qms_counters": {"center", "state"},
    "qms_counter_paused_seconds": {"center", "counter"},
    "qms_counter_queue_length": {"center", "counter"},
    "qms_center_wait_target_seconds": {"center"},
    "qms_projection_lag_seconds": {"center"},
    "qms_up": set(),
}


def parse(body: bytes) -> Series:
    """Every sample of an exposition, parsed by prometheus_client (so the text is valid)."""
    series: Series = {}
    for family in text_string_to_metric_families(body.decode("utf-8")):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in series, f"duplicate series {key}"
            series[key] = sample.value
    return series


def value(series: Series, name: str, **labels: str) -> float:
    return series[(name, frozenset(labels.items()))]


def total(series: Series, name: str, **labels: str) -> float:
    """Sum of every series of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in series.items() if n == name and wanted <= ls)


async def scrape(engine: Engine) -> Series:
    return parse(render(await read_families(engine)))


# ---------------------------------------------------------------------- in process


async def drive_scenario(engine: Engine) -> dict[str, Any]:
    """Known transitions at A (and a little at B); clock offsets make the waits known."""
    client = engine.runner.client
    morning = await pin_morning(client, A, B)
    await engine.open_counter(A, "1", "nv.an")       # certification, civil_status, results
    await engine.open_counter(A, "2", "nv.binh")     # land, construction
    cert = [await engine.issue(A, "certification") for _ in range(4)]
    elder = await engine.issue(A, "certification", priority="elderly")
    online = await engine.issue(A, "certification", channel="online")
    await engine.issue(A, "land")
    await shift_clock(client, A, morning + 90_000)             # everyone has waited 90 s

    first = await engine.call_next(A, "1", "nv.an")  # priority first: the elderly citizen
    assert first.ticket is not None and first.ticket.id == elder.id
    await engine.recall(A, "1", "nv.an")
    await engine.start(A, "1", "nv.an")
    await shift_clock(client, A, morning + 290_000)            # served for 200 s
    await engine.complete(A, "1", "nv.an")
    await engine.rate(elder.id, 5)

    second = await engine.call_next(A, "1", "nv.an")   # cert[0], waited 290 s
    assert second.ticket is not None and second.ticket.id == cert[0].id
    await engine.no_show(A, "1", "nv.an")
    third = await engine.call_next(A, "1", "nv.an")    # cert[1]
    assert third.ticket is not None and third.ticket.id == cert[1].id
    await engine.start(A, "1", "nv.an")
    await engine.transfer(cert[1].id, counter="1", staff="nv.an", to_service="land")
    await engine.cancel(online.id)

    # The transferred ticket keeps cert[1]'s arrival, so it is first in the land queue; its
    # wait counts from the transfer (~0 s).
    land = await engine.call_next(A, "2", "nv.binh")
    assert land.ticket is not None and land.ticket.channel == "transfer"
    await engine.start(A, "2", "nv.binh")
    await engine.complete(A, "2", "nv.binh")
    await engine.rate(land.ticket.id, 3)
    await engine.pause(A, "2", "meeting", "nv.binh")
    await shift_clock(client, A, morning + 890_000)            # paused for 600 s, and still paused

    await engine.issue(B, "results", channel="online")
    await engine.issue(B, "results")
    return {"cert": cert, "elder": elder}


async def test_tickets_sent_to_one_counter_have_their_own_gauge(engine: Engine) -> None:
    ticket = await engine.issue(B, "land")
    # A supervisor's choice: it waits for counter 2 of B alone, which is not open yet.
    await engine.transfer(ticket.id, to_counter="2", force=True)
    series = await scrape(engine)
    assert value(series, "qms_counter_queue_length", center=B, counter="2") == 1
    assert value(series, "qms_counter_queue_length", center=B, counter="1") == 0
    assert value(series, "qms_queue_length", center=B, service="land") == 0


async def test_collector_equals_the_engine_counts(engine: Engine) -> None:
    await drive_scenario(engine)
    series = await scrape(engine)

    assert {name for name, _ in series} == set(CONTRACT)
    for name, labels in series:
        assert {k for k, _ in labels} == CONTRACT[name], name

    def at_a(name: str, **labels: str) -> float:
        return value(series, name, center=A, **labels)

    issued = "qms_tickets_issued_total"
    assert at_a(issued, service="certification", channel="kiosk", priority="none") == 4
    assert at_a(issued, service="certification", channel="kiosk", priority="elderly") == 1
    assert at_a(issued, service="certification", channel="online", priority="none") == 1
    assert at_a(issued, service="land", channel="kiosk", priority="none") == 1
    assert at_a(issued, service="land", channel="transfer", priority="none") == 1
    assert total(series, issued, center=A) == 8
    assert total(series, issued, center=B) == 2
    assert at_a("qms_calls_total", service="certification") == 3
    assert at_a("qms_calls_total", service="land") == 1
    assert at_a("qms_recalls_total", service="certification") == 1
    assert at_a("qms_served_total", service="certification") == 1
    assert at_a("qms_served_total", service="land") == 1
    assert at_a("qms_no_shows_total", service="certification") == 1
    assert at_a("qms_transfers_total", service="certification") == 1
    assert at_a("qms_cancellations_total", service="certification") == 1
    assert at_a("qms_ratings_total", service="certification", level="5") == 1
    assert at_a("qms_ratings_total", service="land", level="3") == 1
    assert total(series, "qms_ratings_total", center=A) == 2

    # Waits: the elderly ticket 90 s (bucket 300), cert[0] and cert[1] 290 s (bucket 300),
    # the transferred ticket ~0 s (bucket 60). Buckets are cumulative, _count is +Inf.
    wait = "qms_wait_seconds_bucket"
    assert at_a(wait, service="certification", le="60.0") == 0
    assert at_a(wait, service="certification", le="300.0") == 3
    assert at_a(wait, service="certification", le="+Inf") == 3
    assert at_a("qms_wait_seconds_count", service="certification") == 3
    assert 670 <= at_a("qms_wait_seconds_sum", service="certification") < 670 + SLACK
    assert at_a(wait, service="land", le="60.0") == 1
    assert at_a("qms_wait_seconds_count", service="land") == 1
    assert at_a("qms_service_seconds_bucket", service="certification", le="120.0") == 0
    assert at_a("qms_service_seconds_bucket", service="certification", le="300.0") == 1
    assert 200 <= at_a("qms_service_seconds_sum", service="certification") < 200 + SLACK
    assert len(SERVICE_BUCKETS_S) + 1 == sum(
        1 for n, ls in series if n == "qms_service_seconds_bucket"
        and ("center", A) in ls and ("service", "land") in ls)
    assert len(WAIT_BUCKETS_S) + 1 == sum(
        1 for n, ls in series if n == "qms_wait_seconds_bucket"
        and ("center", B) in ls and ("service", "merit") in ls)

    # Staff.
    assert at_a("qms_staff_served_total", staff="nv.an") == 1
    assert at_a("qms_staff_served_total", staff="nv.binh") == 1
    assert at_a("qms_staff_recalls_total", staff="nv.an") == 1
    assert at_a("qms_staff_no_shows_total", staff="nv.an") == 1
    assert at_a("qms_staff_ratings_total", staff="nv.an", level="5") == 1
    assert at_a("qms_staff_ratings_total", staff="nv.binh", level="3") == 1
    assert at_a("qms_staff_service_seconds_bucket", staff="nv.an", le="300.0") == 1
    assert at_a("qms_staff_service_seconds_count", staff="nv.binh") == 1
    # nv.binh: paused 600 s and still paused (in progress, up to the whole second).
    paused = at_a("qms_staff_paused_seconds_total", staff="nv.binh", reason="meeting")
    assert 599 <= paused <= 600 + SLACK
    assert at_a("qms_staff_time_seconds_total", staff="nv.binh", activity="paused") == paused
    assert at_a("qms_counter_paused_seconds", counter="2") == paused
    assert at_a("qms_counter_paused_seconds", counter="1") == 0
    # nv.an: idle 90 s, serving the elderly citizen 200 s, then idle since the transfer
    # (600 s, in progress); nv.binh: idle 290 s before the call.
    assert 200 <= at_a("qms_staff_time_seconds_total", staff="nv.an",
                      activity="serving") < 200 + SLACK
    assert 689 <= at_a("qms_staff_time_seconds_total", staff="nv.an",
                      activity="idle") <= 690 + SLACK
    assert 290 <= at_a("qms_staff_time_seconds_total", staff="nv.binh",
                      activity="idle") < 290 + SLACK

    # Gauges against the engine's own snapshot.
    snapshot = await engine.snapshot(A)
    for row in snapshot["services"]:
        assert at_a("qms_queue_length", service=row["id"]) == row["waiting"]
    assert at_a("qms_queue_length", service="certification") == 2     # cert[2], cert[3]
    assert at_a("qms_queue_length", service="land") == 1               # the first land one
    assert 889 <= at_a("qms_queue_oldest_wait_seconds", service="land") <= 890 + SLACK
    assert 889 <= at_a("qms_queue_oldest_wait_seconds", service="certification") <= 890 + SLACK
    assert at_a("qms_queue_oldest_wait_seconds", service="business") == 0
    assert at_a("qms_counters", state="open") == 1
    assert at_a("qms_counters", state="paused") == 1
    assert at_a("qms_counters", state="closed") == 2
    assert at_a("qms_center_wait_target_seconds") == snapshot["target_s"] == 1800
    assert value(series, "qms_up") == 1


async def test_every_hash_field_is_exported(engine: Engine) -> None:
    """Nothing the scripts count is lost: each counter field of the raw hash is one series, and
    each histogram's buckets add up to its count and to the counter that is that count
    (calls, completions, a person's completions: the scripts keep only the buckets)."""
    await drive_scenario(engine)
    series = await scrape(engine)
    raw = flat_pairs((await engine.snapshot(A, metrics=True))["metrics"])
    names = {"issued": "qms_tickets_issued_total", "recalls": "qms_recalls_total",
             "noshow": "qms_no_shows_total", "transfers": "qms_transfers_total",
             "cancels": "qms_cancellations_total", "s_recalls": "qms_staff_recalls_total",
             "s_noshow": "qms_staff_no_shows_total"}
    histograms = {"wait": ("qms_wait_seconds", "qms_calls_total", "service"),
                  "svc": ("qms_service_seconds", "qms_served_total", "service"),
                  "s_svc": ("qms_staff_service_seconds", "qms_staff_served_total", "staff")}
    labels = {"issued": ("service", "channel", "priority")}
    checked, buckets = 0, Counter[tuple[str, str]]()
    for field, count in raw.items():
        prefix, *values = field.split("|")
        if prefix in names:
            keys_ = labels.get(prefix, ("staff",) if prefix.startswith("s_") else ("service",))
            assert value(series, names[prefix], center=A, **dict(zip(keys_, values, strict=True))
                         ) == int(count), field
            checked += 1
        elif prefix in histograms and values[1].startswith("b"):
            buckets[prefix, values[0]] += int(count)
    for (prefix, label), count in buckets.items():
        histogram, counter, label_name = histograms[prefix]
        assert value(series, histogram + "_count", center=A, **{label_name: label}) == count
        assert value(series, counter, center=A, **{label_name: label}) == count
        checked += 1
    assert checked >= 12


async def test_untouched_center_is_zero_filled(engine: Engine) -> None:
    await engine.issue(A, "land")
    series = await scrape(engine)
    quiet = engine.province.centers[-1].id
    for service in engine.province.service_ids:
        assert value(series, "qms_calls_total", center=quiet, service=service) == 0
        assert value(series, "qms_wait_seconds_bucket", center=quiet, service=service,
                     le="+Inf") == 0
        assert value(series, "qms_ratings_total", center=quiet, service=service, level="4") == 0
    assert value(series, "qms_counters", center=quiet, state="closed") == len(
        engine.province.centers[-1].counters)
    assert value(series, "qms_counters", center=quiet, state="open") == 0
    assert total(series, "qms_tickets_issued_total", center=quiet) == 0
    assert not [1 for n, ls in series if n == "qms_tickets_issued_total" and ("center", quiet)
                in ls]


async def test_staff_time_never_goes_back(engine: Engine) -> None:
    """The pause in progress is exported as it runs; booking it at resume changes nothing."""
    client = engine.runner.client
    morning = await pin_morning(client, A)
    await engine.open_counter(A, "3", "nv.cuong")
    await engine.pause(A, "3", "break", "nv.cuong")
    await shift_clock(client, A, morning + 120_000)
    during = await scrape(engine)
    await engine.resume(A, "3", "nv.cuong")
    await shift_clock(client, A, morning + 120_500)
    after = await scrape(engine)
    for name, labels in (("qms_staff_paused_seconds_total", {"reason": "break"}),
                         ("qms_staff_time_seconds_total", {"activity": "paused"})):
        before_v = value(during, name, center=A, staff="nv.cuong", **labels)
        after_v = value(after, name, center=A, staff="nv.cuong", **labels)
        assert 119 <= before_v <= after_v <= 120 + SLACK, (name, before_v, after_v)
    assert value(after, "qms_counter_paused_seconds", center=A, counter="3") == 0
    assert value(after, "qms_counters", center=A, state="open") == 1


async def test_one_scrape_is_a_few_pipelines(engine: Engine,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The 54 snapshots are batched by the ScriptRunner: a handful of round trips."""
    runner = engine.runner
    batches: list[int] = []
    execute = runner._execute

    async def counted(batch: list[Any]) -> list[Any]:
        batches.append(len(batch))
        return await execute(batch)

    monkeypatch.setattr(runner, "_execute", counted)
    await read_families(engine)
    assert sum(batches) == len(engine.province.centers) == 54
    assert len(batches) <= runner.max_inflight + 1, batches


async def test_unknown_fields_are_skipped(engine: Engine) -> None:
    """A field a newer script writes, or a malformed one, does not break the scrape."""
    await engine.issue(A, "land")
    metrics_key = keys.center_key(A, "metrics")
    await engine.runner.client.hset(metrics_key, mapping={
        "future|land|x": 3, "calls": 1, "calls|land|extra": 2, "wait|land|b99": 4,
        "wait|land|bx": 1})
    series = await scrape(engine)
    assert value(series, "qms_calls_total", center=A, service="land") == 0
    assert value(series, "qms_wait_seconds_count", center=A, service="land") == 0


async def test_render_is_generate_latest(engine: Engine) -> None:
    """The fast renderer writes exactly the library's bytes, also for awkward label values."""
    await drive_scenario(engine)
    families = await read_families(engine)
    odd = Family("qms_odd", "counter", 'help with \\ and\nnewline', ("center", "staff"),
                 [(("c", 'quote " back \\ nl \n ư'), 1.5), (("c", "b"), 1e16)])
    odd_histogram = HistogramFamily("qms_odd_seconds", "h", ("staff", "center"), (1, 2),
                                    [(("z", "a"), [1, 0, 2], 1234)])
    families += [odd, odd_histogram]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FamiliesCollector(families))
    assert render(families) == generate_latest(registry)


# ---------------------------------------------------------------------- real servers


def _drive_live(server: LiveServer, boot: Bootstrap, center: str) -> None:
    """Over HTTP: tickets, a call in progress, a paused counter, citizens waiting."""
    kiosk = boot.device("kiosk", center)
    suffix = str(time.time_ns())[-6:]
    staff = [f"m{n}{suffix}" for n in range(2)]
    for name in staff:
        boot.account(name, "staff", center)
    tokens = [login(server, name) for name in staff]
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        def post(path: str, token: str, body: dict[str, Any] | None = None) -> Any:
            response = http.post(path, json=body or {},
                                 headers={"Authorization": f"Bearer {token}"})
            assert response.status_code in (200, 201), response.text
            return response.json()

        for service in ("certification", "results", "land", "land", "certification"):
            post(f"/api/v1/centers/{center}/tickets", kiosk, {"service": service})
        post(f"/api/v1/centers/{center}/counters/1/open", tokens[0])
        post(f"/api/v1/centers/{center}/counters/1/call-next", tokens[0])
        post(f"/api/v1/centers/{center}/counters/1/start", tokens[0])
        post(f"/api/v1/centers/{center}/counters/1/complete", tokens[0])
        post(f"/api/v1/centers/{center}/counters/1/call-next", tokens[0])
        post(f"/api/v1/centers/{center}/counters/3/open", tokens[1])
        post(f"/api/v1/centers/{center}/counters/3/pause", tokens[1], {"reason": "break"})


def redis_second(url: str) -> int:
    with redis.Redis.from_url(url) as client:
        seconds, _ = client.time()
        return int(seconds)


def test_two_replicas_answer_the_same_bytes(live_redis_url: str, tmp_path: Path) -> None:
    first = LiveServer(live_redis_url, tmp_path / "r1").start()
    second = LiveServer(live_redis_url, tmp_path / "r2").start()
    try:
        _drive_live(first, Bootstrap(live_redis_url), LIVE)
        time.sleep(2.1)   # the paused counter and the waiting tickets now have whole seconds
        for _attempt in range(20):
            before = redis_second(live_redis_url)
            a = httpx.get(first.base_url + "/metrics", headers=SCRAPE, timeout=10)
            b = httpx.get(second.base_url + "/metrics", headers=SCRAPE, timeout=10)
            if redis_second(live_redis_url) != before:
                continue  # the Redis clock crossed a second between the two reads: again
            assert a.status_code == b.status_code == 200
            assert a.headers["content-type"] == CONTENT_TYPE
            assert a.content == b.content
            break
        else:
            pytest.fail("no two scrapes fell within one Redis second in 20 attempts")
        series = parse(a.content)
        assert value(series, "qms_counters", center=LIVE, state="paused") >= 1
        assert value(series, "qms_counter_paused_seconds", center=LIVE, counter="3") >= 1
        assert value(series, "qms_queue_oldest_wait_seconds", center=LIVE,
                     service="land") >= 1
        assert total(series, "qms_staff_time_seconds_total", center=LIVE) >= 1
    finally:
        first.stop()
        second.stop()


def test_metrics_for_some_centers_and_unknown_center(live_server: LiveServer) -> None:
    one = httpx.get(live_server.base_url + "/metrics", params={"center": LIVE}, headers=SCRAPE,
                    timeout=10)
    assert one.status_code == 200
    centers = {dict(ls).get("center") for _, ls in parse(one.content)} - {None}
    assert centers == {LIVE}
    two = httpx.get(live_server.base_url + "/metrics?center=07090&center=07093&center=07090",
                    headers=SCRAPE, timeout=10)
    assert {dict(ls).get("center") for _, ls in parse(two.content)} - {None} == {
        "07090", "07093"}
    missing = httpx.get(live_server.base_url + "/metrics?center=99999", headers=SCRAPE,
                        timeout=10)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["type"] == "/problems/unknown-center"
    assert "99999" in missing.json()["detail"]


def _timed_get(url: str) -> tuple[float, httpx.Response]:
    start = time.monotonic()
    response = httpx.get(url, headers=SCRAPE, timeout=30)
    return time.monotonic() - start, response


def test_redis_down_gives_503_quickly(tmp_path: Path) -> None:
    store = start_standalone(tmp_path / "redis")
    server = LiveServer(store.url, tmp_path / "server").start()
    try:
        url = server.base_url + "/metrics"
        assert httpx.get(url, headers=SCRAPE, timeout=10).status_code == 200
        pid = store.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)          # Redis hangs: nothing answers, nothing refuses
        try:
            elapsed, response = _timed_get(url)
        finally:
            os.kill(pid, signal.SIGCONT)
        assert response.status_code == 503, response.text
        assert response.json()["type"] == "/problems/unavailable"
        assert READ_TIMEOUT_S <= elapsed < READ_TIMEOUT_S + scaled(1.0)
        assert httpx.get(url, headers=SCRAPE, timeout=10).status_code == 200  # back with Redis

        store.stop()                          # Redis gone: connections are refused
        elapsed, response = _timed_get(url)
        assert response.status_code == 503, response.text
        assert elapsed < READ_TIMEOUT_S + scaled(1.0)
    finally:
        server.stop()
        store.stop()
