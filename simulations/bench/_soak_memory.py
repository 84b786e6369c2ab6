"""Memory of the soak's processes over the simulated day: sampled, then summed up.

:class:`MemoryWatch` runs in the drive's event loop: once the day's clock starts it reads every
process's VmRSS and Pss (``/proc/PID/status``, ``smaps_rollup``) and Redis's ``INFO memory``
every ``--sample-minutes`` simulated minutes, stamped in simulated time, and once more after
the drive. :func:`summary` gives each process's memory at the start, middle and end of the day
and the growth fitted over the second half (least squares, MiB per simulated hour), with the
verdict ``flat`` when that growth over the second half is at most :data:`FLAT_MIB` or
:data:`FLAT_SHARE` of the process's memory at mid-day, whichever is larger: the first half
is warm-up (imports touched, pools and caches filled, every socket connected), and a leak
shows as a slope that goes on after it.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from simulations.bench._api_stack import memory_kib
from simulations.live.clock import WallClock

FLAT_MIB = 10.0
FLAT_SHARE = 0.05
MIB = 1024 * 1024


@dataclass
class Sample:
    sim_ms: int                                 # simulated epoch ms (the drive's clock)
    rss_kib: dict[str, int]                     # process → VmRSS
    pss_kib: dict[str, int]                     # process → Pss
    redis: dict[str, int]                       # used_memory, used_memory_rss, keys

    def as_json(self, midnight_ms: int) -> dict[str, Any]:
        return {"hour": round((self.sim_ms - midnight_ms) / 3_600_000, 4),
                "rss_mib": {k: round(v / 1024, 2) for k, v in self.rss_kib.items()},
                "pss_mib": {k: round(v / 1024, 2) for k, v in self.pss_kib.items()},
                "redis_used_memory_mib": round(self.redis.get("used_memory", 0) / MIB, 2),
                "redis_keys": self.redis.get("keys", 0)}


@dataclass
class MemoryWatch:
    """Samples of ``pids`` (name → pid) and of the Redis at ``redis_url``."""

    pids: dict[str, int]
    redis_url: str
    every_sim_minutes: float
    speed: float
    samples: list[Sample] = field(default_factory=list)
    clock: WallClock | None = None
    _begun: asyncio.Event = field(default_factory=asyncio.Event)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _client: aioredis.Redis | None = None

    def start(self) -> None:
        self._client = aioredis.Redis.from_url(self.redis_url)
        self._task = asyncio.get_running_loop().create_task(self._run())

    def begin(self, clock: WallClock) -> None:
        """The drive's ``on_start``: the day's clock runs; sampling starts."""
        self.clock = clock
        self._begun.set()

    async def sample(self) -> Sample:
        assert self.clock is not None and self._client is not None
        sim_ms = self.clock.now()
        rss, pss = {}, {}
        for name, pid in self.pids.items():
            found = memory_kib(pid)
            rss[name], pss[name] = found.get("vmrss", 0), found.get("pss", 0)
        info = await self._client.info("memory")
        keys = int(await self._client.dbsize())
        return Sample(sim_ms, rss, pss, {"used_memory": int(info["used_memory"]),
                                         "used_memory_rss": int(info["used_memory_rss"]),
                                         "keys": keys})

    async def _run(self) -> None:
        begun = asyncio.ensure_future(self._begun.wait())
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({begun, stopping}, return_when=asyncio.FIRST_COMPLETED)
        begun.cancel()
        stopping.cancel()
        every_s = max(self.every_sim_minutes * 60 / self.speed, 0.05)
        while not self._stopping.is_set():
            self.samples.append(await self.sample())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), every_s)

    async def stop(self) -> None:
        """Stop sampling; one last sample (the day's end, after the drive)."""
        self._stopping.set()
        if self._task is not None:
            await self._task
        if self.clock is not None:
            self.samples.append(await self.sample())
        if self._client is not None:
            await self._client.aclose()


def fit_slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of y over x; None for fewer than two distinct x."""
    if len(points) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def series(samples: list[Sample], midnight_ms: int) -> dict[str, list[tuple[float, float]]]:
    """(simulated hour of the day, MiB) per process, and Redis's used_memory."""
    out: dict[str, list[tuple[float, float]]] = {}
    for sample in samples:
        hour = (sample.sim_ms - midnight_ms) / 3_600_000
        for name, kib in sample.rss_kib.items():
            out.setdefault(name, []).append((hour, kib / 1024))
        out.setdefault("redis used_memory", []).append(
            (hour, sample.redis.get("used_memory", 0) / MIB))
    return out


def _nearest(points: list[tuple[float, float]], hour: float) -> float:
    return min(points, key=lambda p: abs(p[0] - hour))[1]


def summary(samples: list[Sample], midnight_ms: int) -> dict[str, Any]:
    """Start / middle / end, the second half's slope and growth, and the verdict, per
    series; ``half_from`` is the simulated hour where the second half begins."""
    found: dict[str, Any] = {"start": {}, "middle": {}, "end": {}, "slope": {}, "growth": {},
                             "threshold": {}, "verdict": {}, "half_from": None}
    for name, points in series(samples, midnight_ms).items():
        first, last = points[0][0], points[-1][0]
        middle = (first + last) / 2
        found["half_from"] = middle
        mid_value = _nearest(points, middle)
        slope = fit_slope([p for p in points if p[0] >= middle])
        growth = None if slope is None else slope * (last - middle)
        threshold = max(FLAT_MIB, FLAT_SHARE * mid_value)
        found["start"][name] = round(points[0][1], 2)
        found["middle"][name] = round(mid_value, 2)
        found["end"][name] = round(points[-1][1], 2)
        found["slope"][name] = None if slope is None else round(slope, 3)
        found["growth"][name] = None if growth is None else round(growth, 2)
        found["threshold"][name] = round(threshold, 1)
        found["verdict"][name] = ("too few samples" if growth is None else
                                  "flat" if growth <= threshold else "growing")
    return found
