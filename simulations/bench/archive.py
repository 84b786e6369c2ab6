"""``archive``: events per second into the archive against a bare batched INSERT of the same
rows, and a month's and a year's full report over a generated year of the 54 centers.

Method (docs/benchmarks.md, "Archive", has the figures):

1. Our own servers on free loopback ports: ``EmbeddedRedis`` (AOF off) and
   ``EmbeddedPostgres`` with its product settings (fsync and synchronous commit on) and
   ``shared_buffers`` of 512 MB; the schema migrated as at start.
2. ``--events`` events are made through ``Engine`` (the scripts the server runs) at the 54
   centers: tickets issued, called, started, completed, rated. Then the archiver
   (``Archiver.catch_up``: XRANGE per center, decoding, projection, one transaction per
   center batch with its checkpoint lock) applies them all: ``archive_events_per_s``.
3. The ceiling, in the same run: the same event and ticket rows (projected beforehand, not
   timed), written in the same batches, one transaction each, by plain INSERTs into tables
   without keys or indexes: ``insert_ceiling_events_per_s``. ``ratio`` = archive / ceiling.
4. A year (``--year``) of ``--tickets`` ticket rows spread over the 54 centers, their
   services, channels, priorities and outcomes (waits and service times exponential, a third
   rated), generated inside PostgreSQL; then the full province report by center (every
   measure) of a month and of the year through ``run_report``, the median of
   ``--repeats`` runs each: ``month_report_s``, ``year_report_s``.

The common ``--seconds`` does not apply: the work is fixed by ``--events`` and ``--tickets``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from queue_server import keys
from queue_server.archive.archiver import Archiver
from queue_server.archive.migrate import upgrade
from queue_server.archive.migrations.versions.v0002_rollup import REBUILD_ROLLUP
from queue_server.archive.projection import EVENT_COLUMNS, TICKET_COLUMNS, Batch, StreamId
from queue_server.archive.report_query import build_query, period_of
from queue_server.archive.reports import run_report
from queue_server.archive.store import EVENT_TYPES, TICKET_TYPES, rows_json, rows_sql
from queue_server.embedded import EmbeddedRedis
from queue_server.embedded_postgres import EmbeddedPostgres
from queue_server.engine import Engine
from queue_server.province import Province, load_province
from queue_server.records import decode_event
from queue_server.redis_client import close, connect
from queue_server.script_runner import ScriptRunner
from simulations.bench import Benchmark

GOALS = {"ratio": 0.5, "month_report_s": 1.0, "year_report_s": 3.0}
PG_SETTINGS = {"shared_buffers": "512MB"}


# ---------------------------------------------------------------------- events and archiving


async def make_events(engine: Engine, events: int) -> int:
    """About ``events`` events through the engine: per ticket issued, called, started,
    completed and rated (five events), at every center in turn, 20 at a time."""
    centers = engine.province.centers
    for center in centers:
        await engine.open_counter(center.id, "1", f"bench{center.id}")
    made = len(centers)
    while made < events:
        batch = []
        for center in centers:
            batch.append(engine.issue(center.id, "certification"))
        tickets = await asyncio.gather(*batch)
        for step in ("call_next", "start", "complete"):
            await asyncio.gather(*(getattr(engine, step)(c.id, "1", f"bench{c.id}")
                                   for c in centers))
        await asyncio.gather(*(engine.rate(t.id, 5) for t in tickets))
        made += 5 * len(centers)
    return made


async def projected_batches(engine: Engine, batch_size: int) -> list[Batch]:
    """The rows the archiver writes, batch by batch, for the ceiling (not timed)."""
    batches = []
    for center in engine.province.centers:
        entries = await engine.runner.client.xrange(keys.center_stream_key(center.id))
        for start in range(0, len(entries), batch_size):
            batch = Batch(center.id)
            for entry_id, fields in entries[start:start + batch_size]:
                batch.add(StreamId.parse(entry_id), decode_event(fields[b"d"], center.id))
            batches.append(batch)
    return batches


# The same rows in the same form (one JSON parameter per batch and table) as the archiver
# sends, so the ratio measures what the archive adds: reading, decoding, projecting, the
# checkpoint's lock and advance, keys and the newest-wins upsert.
BARE_EVENTS = (f"INSERT INTO bare_events ({', '.join(EVENT_COLUMNS)}) "
               + rows_sql(EVENT_TYPES, skip_first=True).format(first="%s::text, "))
BARE_TICKETS = (f"INSERT INTO bare_tickets ({', '.join(TICKET_COLUMNS)}) "
                + rows_sql(TICKET_TYPES).format(first=""))


async def insert_ceiling(url: str, batches: list[Batch]) -> float:
    """Seconds to write the same rows with plain batched INSERTs, one transaction a batch."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for table in ("events", "tickets"):
            await conn.execute(f"DROP TABLE IF EXISTS bare_{table}")
            await conn.execute(f"CREATE TABLE bare_{table} (LIKE {table})")
        await conn.set_autocommit(False)
        started = time.perf_counter()
        for batch in batches:
            async with conn.transaction():
                await conn.execute(BARE_EVENTS, (batch.center, rows_json(batch.events, True)))
                await conn.execute(BARE_TICKETS, (rows_json(batch.tickets.values()),))
        return time.perf_counter() - started


async def archive_throughput(redis_url: str, url: str, province: Province, events: int,
                             batch_size: int) -> dict[str, Any]:
    client = connect(redis_url)
    runner = ScriptRunner(client)
    await runner.load()
    engine = Engine(runner, province)
    await engine.sync_province()
    made_at = time.perf_counter()
    made = await make_events(engine, events)
    made_s = time.perf_counter() - made_at
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(url, min_size=4, max_size=4,
                                                         open=False)
    await pool.open(wait=True)
    try:
        archiver = Archiver(client, pool, [c.id for c in province.centers],
                            batch_size=batch_size)
        await archiver.prepare()
        started = time.perf_counter()
        await archiver.catch_up()
        archive_s = time.perf_counter() - started
        applied = archiver.stats.events
        batches = await projected_batches(engine, batch_size)
        ceiling_s = await insert_ceiling(url, batches)
    finally:
        await pool.close()
        await runner.aclose()
        await close(client)
    return {"events": applied, "events_made": made, "making_s": round(made_s, 2),
            "batches": len(batches), "archive_s": round(archive_s, 3),
            "ceiling_s": round(ceiling_s, 3)}


# ---------------------------------------------------------------------- a year of tickets

GENERATE = """
INSERT INTO tickets (id, center, day, number, service, status, priority, channel, counter,
  staff, arrived_ms, issued_ms, called_ms, started_ms, ended_ms, recalls, rating, wait_ms,
  service_ms, version_ms, version_seq, last_event)
SELECT c || '-' || to_char(d, 'YYYYMMDD') || '-X' || g, c, d, 'X' || g, s, st, pr, ch, k,
  'staff' || c || k, 0, 0, 0, 0, 0, 0,
  CASE WHEN st = 'done' AND random() < 0.35 THEN 1 + floor(random() * 5)::int END,
  CASE WHEN st IN ('done', 'no_show', 'transferred') THEN (-ln(1 - random()) * 600000)::bigint
  END,
  CASE WHEN st = 'done' THEN (-ln(1 - random()) * 420000)::bigint END, 0, g, 'completed'
FROM (SELECT g,
  (%(centers)s::text[])[1 + floor(random() * %(n_centers)s)::int] AS c,
  %(start)s::date + floor(random() * %(days)s)::int AS d,
  (%(services)s::text[])[1 + floor(random() * %(n_services)s)::int] AS s,
  (ARRAY['done', 'done', 'done', 'done', 'done', 'done', 'done', 'done', 'done', 'no_show',
         'transferred', 'cancelled', 'expired'])[1 + floor(random() * 13)::int] AS st,
  (ARRAY['', '', '', '', '', '', '', '', 'elderly', 'disability'])[
    1 + floor(random() * 10)::int] AS pr,
  (ARRAY['kiosk', 'kiosk', 'kiosk', 'kiosk', 'online', 'appointment', 'transfer'])[
    1 + floor(random() * 7)::int] AS ch,
  (1 + floor(random() * 4)::int)::text AS k
  FROM generate_series(%(low)s, %(high)s) AS g) AS x
"""
CHUNK = 250_000


def generate_year(url: str, province: Province, year: int, tickets: int) -> float:
    started = time.perf_counter()
    first = dt.date(year, 1, 1)
    days = (dt.date(year + 1, 1, 1) - first).days
    params: dict[str, Any] = {
        "centers": [c.id for c in province.centers], "n_centers": len(province.centers),
        "services": list(province.service_ids), "n_services": len(province.service_ids),
        "start": first, "days": days}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE tickets")
        for low in range(1, tickets + 1, CHUNK):
            conn.execute(GENERATE, {**params, "low": low, "high": min(low + CHUNK - 1, tickets)})
        conn.execute("TRUNCATE monthly, monthly_hist")
        conn.execute(REBUILD_ROLLUP)     # what the archiver keeps as it goes
        for table in ("tickets", "monthly", "monthly_hist"):
            conn.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - started


async def time_report(url: str, province: Province, kind: str, anchor: dt.date,
                      repeats: int) -> tuple[float, int]:
    query = build_query(province, period_of(kind, anchor, today=anchor), by=["center"])
    times = []
    async with await psycopg.AsyncConnection.connect(url) as conn:
        for _ in range(repeats):
            started = time.perf_counter()
            report = await run_report(conn, province, query)
            times.append(time.perf_counter() - started)
    return statistics.median(times), int(report.total["tickets"] or 0)


# ---------------------------------------------------------------------- the benchmark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=20_000,
                        help="events made and archived (default 20000)")
    parser.add_argument("--batch", type=int, default=500,
                        help="events per center per transaction (default 500)")
    parser.add_argument("--tickets", type=int, default=2_000_000,
                        help="ticket rows of the generated year (default 2000000)")
    parser.add_argument("--year", type=int, default=2026, help="the generated year")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each report")


def run(args: argparse.Namespace) -> dict[str, Any]:
    province = load_province()
    folder = Path(tempfile.mkdtemp(prefix="qms-bench-archive-"))
    folder.chmod(0o755)                 # the server's user (not root) must reach its cluster
    redis = EmbeddedRedis(folder / "redis", appendonly=False).start()
    postgres = EmbeddedPostgres(folder / "pg", settings=PG_SETTINGS).start()
    try:
        upgrade(postgres.url)
        write = asyncio.run(archive_throughput(redis.url, postgres.url, province, args.events,
                                               args.batch))
        generate_s = generate_year(postgres.url, province, args.year, args.tickets)
        month_s, month_tickets = asyncio.run(time_report(
            postgres.url, province, "month", dt.date(args.year, 6, 15), args.repeats))
        year_s, year_tickets = asyncio.run(time_report(
            postgres.url, province, "year", dt.date(args.year, 6, 15), args.repeats))
        with psycopg.connect(postgres.url) as conn:
            version = conn.execute("SHOW server_version").fetchone()
    finally:
        postgres.stop()
        redis.stop()
        shutil.rmtree(folder, ignore_errors=True)
    archive_rate = write["events"] / write["archive_s"]
    ceiling_rate = write["events"] / write["ceiling_s"]
    result = {
        "archive_events_per_s": round(archive_rate),
        "insert_ceiling_events_per_s": round(ceiling_rate),
        "ratio": round(archive_rate / ceiling_rate, 3),
        "month_report_s": round(month_s, 3), "year_report_s": round(year_s, 3),
        "write": {**write, "batch": args.batch},
        "year": {"tickets": args.tickets, "generate_s": round(generate_s, 1),
                 "month_tickets": month_tickets, "year_tickets": year_tickets,
                 "repeats": args.repeats},
        "postgres": version[0] if version else "", "settings": PG_SETTINGS,
        "machine": {"cpus": os.cpu_count(), "loadavg_1min": round(os.getloadavg()[0], 2)},
    }
    result["goals"] = {"ratio": result["ratio"] >= GOALS["ratio"],
                       "month_report_s": month_s < GOALS["month_report_s"],
                       "year_report_s": year_s < GOALS["year_report_s"]}
    return result


def render_result(result: dict[str, Any]) -> str:
    write, year, goals = result["write"], result["year"], result["goals"]

    def met(name: str) -> str:
        return "met" if goals[name] else "NOT met"

    return "\n".join([
        f"archive: {write['events']:,} events of 54 centers, batches of {write['batch']}",
        f"  into the archive   {result['archive_events_per_s']:>9,} events/s",
        f"  bare INSERT        {result['insert_ceiling_events_per_s']:>9,} events/s   ratio "
        f"{result['ratio']:.2f} (goal ≥ {GOALS['ratio']}: {met('ratio')})",
        f"  a year of {year['tickets']:,} tickets (generated in {year['generate_s']} s); "
        f"province report by center, median of {year['repeats']}",
        f"  month ({year['month_tickets']:,} tickets) {result['month_report_s']:>7.3f} s   "
        f"goal < {GOALS['month_report_s']} s: {met('month_report_s')}",
        f"  year ({year['year_tickets']:,} tickets)  {result['year_report_s']:>7.3f} s   "
        f"goal < {GOALS['year_report_s']} s: {met('year_report_s')}",
        f"  PostgreSQL {result['postgres']}; {result['machine']['cpus']} CPUs, load average "
        f"{result['machine']['loadavg_1min']}",
    ])


BENCH = Benchmark(
    name="archive",
    summary="events/s into the archive against a bare INSERT (goal ratio ≥ 0.5), and a "
    "month's and a year's report over 2 million tickets (goals < 1 s, < 3 s)",
    description=__doc__ or "",
    add_arguments=add_arguments,
    run=run,
    render=render_result,
)

if __name__ == "__main__":  # pragma: no cover
    sys.exit("run it as: python -m simulations.bench archive")
