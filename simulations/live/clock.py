"""Simulated time on the wall clock: the server's clock cannot be sped up, so the drive can.

``sim = start_sim + (wall − start_wall) × speed``: at ``--speed 60`` a simulated hour lasts a
wall minute, and every delay the day asks for (a service, a recall, a break) is divided by the
speed. Times the server stamps (Redis ``TIME``) map back the same way, so waits are reported in
simulated minutes. Actions run as tasks; one that raises is recorded, never lost.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from simulations.process import Action


@dataclass
class Failure:
    sim_ms: int
    error: str


@dataclass
class WallClock:
    start_sim_ms: int
    speed: float
    failures: list[Failure] = field(default_factory=list)
    _start_wall_ms: float = 0.0
    _start_mono: float = 0.0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _timers: int = 0
    lags_ms: list[int] = field(default_factory=list)  # simulated ms each timer fired late

    def start(self) -> None:
        self._start_wall_ms = time.time() * 1000
        self._start_mono = asyncio.get_running_loop().time()

    @property
    def started(self) -> bool:
        return self._start_mono > 0

    def now(self) -> int:
        if not self.started:
            return self.start_sim_ms
        elapsed = asyncio.get_running_loop().time() - self._start_mono
        return self.start_sim_ms + int(elapsed * 1000 * self.speed)

    def sim_of_wall(self, wall_ms: int) -> int:
        """A server timestamp (epoch ms) as simulated epoch ms."""
        return self.start_sim_ms + int((wall_ms - self._start_wall_ms) * self.speed)

    def wall_of_sim(self, sim_ms: int) -> float:
        """Simulated epoch ms as wall epoch ms (an appointment time sent to the server)."""
        return self._start_wall_ms + (sim_ms - self.start_sim_ms) / self.speed

    def at(self, when_ms: int, action: Action) -> None:
        delay = max(0.0, (when_ms - self.now()) / 1000 / self.speed)
        self._timers += 1
        asyncio.get_running_loop().call_later(delay, self._fire, action, max(when_ms,
                                                                             self.now()))

    def _fire(self, action: Action, due_ms: int) -> None:
        self._timers -= 1
        self.lags_ms.append(max(0, self.now() - due_ms))
        self._launch(action)

    async def spawn(self, action: Action) -> None:
        self._launch(action)

    def _launch(self, action: Action) -> None:
        task = asyncio.get_running_loop().create_task(self._guarded(action))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, action: Action) -> None:
        try:
            await action()
        except Exception as error:  # every failure is reported at the end, none is lost
            self.failures.append(Failure(self.now(), str(error) or type(error).__name__))

    @property
    def busy(self) -> int:
        """Actions running now."""
        return len(self._tasks)

    async def settle(self, timeout_s: float) -> bool:
        """Wait for the running actions (not the timers) to finish."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self._tasks and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        return not self._tasks
