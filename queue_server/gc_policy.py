"""Garbage collection for a process that holds thousands of idle sockets.

A lobby screen's connection is a few dozen long-lived Python objects; 10,000 of them make
each full collection walk ~900,000 objects and stop the event loop for 0.5–0.7 s, delaying
every call in flight (docs/benchmarks.md). Young collections stay as they are, and they
reclaim almost all garbage; the full ones are taken off the hot path: start-up objects are
frozen, automatic full collections are pushed far out, and one runs on a timer instead
(``QMS_GC_FULL_EVERY_S``, hourly by default), so its pause is one planned stop an hour rather
than several unplanned ones a minute while screens connect.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

log = logging.getLogger("qms.gc")
# gen0 and gen1 keep Python's defaults; gen2 runs only after this many gen1 collections.
FULL_AFTER_GEN1_RUNS = 1_000_000


def apply() -> tuple[int, int, int]:
    """Freeze what start-up built and defer automatic full collections; returns the old
    thresholds so a caller (the tests) can restore them."""
    old = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(old[0], old[1], FULL_AFTER_GEN1_RUNS)
    return old


async def collect_every(seconds: float) -> None:
    """Run a full collection every ``seconds`` (never when ``seconds`` is 0)."""
    if seconds <= 0:
        return
    while True:
        await asyncio.sleep(seconds)
        started = time.perf_counter()
        found = gc.collect()
        log.info("full collection: %d objects freed in %.0f ms", found,
                 (time.perf_counter() - started) * 1000)
