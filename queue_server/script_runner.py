"""Calling the engine's scripts: by SHA, with concurrent calls batched into pipelines.

The Python client, not Redis, is the bottleneck of a busy server (../shared/PERFORMANCE.md:
60–100 µs of client work per call against ~17 µs of Redis work). Calls made in the same turn of
the event loop are therefore sent as one pipeline: a burst of 50 requests costs one round trip
and one parse, not fifty. At most ``max_inflight`` pipelines are in flight; calls arriving
meanwhile wait for the next one, which is what makes batches grow under load.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Sequence
from typing import Any

from redis.exceptions import NoScriptError, ResponseError

from queue_server.errors import ERRORS_BY_CODE, QmsError, Unavailable
from queue_server.high_water import HighWater
from queue_server.outages import OutageLog, as_unavailable, is_outage
from queue_server.redis_client import RedisClient, is_cluster
from queue_server.refusals import from_reply
from queue_server.scripts import BARE_SCRIPTS, Script, all_scripts, library_source

Arg = str | int | float | bytes
_Call = tuple[Script, Sequence[str], Sequence[Arg], asyncio.Future[Any]]
_REASON = re.compile(r"^[a-z][a-z0-9_]*$")
log = logging.getLogger("qms.redis")
# Scripts that change nothing, or set what they set whatever ran before: sending one again
# after a lost answer is harmless. A transition is safe only with its Idempotency-Key (its
# first answer is stored with its writes, so a second send returns it).
SAFE_TO_RESEND = frozenset({"snapshot", "ticket_read", "noop", "sync_center", "seq_floor",
                            "close_day", "project",
                            "logins", "record_set"})
RESEND_AFTER_S = (0.05, 0.2)   # a Redis restarted by its supervisor answers within ~0.1 s


def _missing(result: object) -> bool:
    """The server lost the code (restart without persistence, a fresh failover target)."""
    return isinstance(result, NoScriptError) or (
        isinstance(result, ResponseError) and "Function not found" in str(result))


def translate_error(error: Exception) -> Exception:
    """A script's refusal as the matching QmsError: ``QMS <code> <reason> <json fields>`` (a
    catalogue reason and the values its sentence names), or the first form, ``QMS <code>
    <English detail>``, which gets the code's own sentence."""
    if isinstance(error, ResponseError):
        text = str(error)
        refusal = from_reply(text)
        if refusal is not None:
            return refusal
        if text.startswith("QMS "):
            _, code, rest = [*text.split(" ", 2), ""][:3]
            # Redis may append where the error was raised; the refusal ends before that.
            rest = rest.split(" script: ")[0].strip()
            kind = ERRORS_BY_CODE.get(code, QmsError)
            reason, _, payload = rest.partition(" ")
            if _REASON.match(reason) and payload.startswith("{"):
                try:
                    fields, _end = json.JSONDecoder().raw_decode(payload)
                except ValueError:
                    fields = None
                if isinstance(fields, dict):
                    return kind(reason=reason, **{str(k): v for k, v in fields.items()})
            if _REASON.match(rest) and "_" in rest:
                return kind(reason=rest)
            return kind(rest)
    if is_outage(error):
        # A refused connection, a failover (READONLY), a replay (LOADING), NOREPLICAS …
        return as_unavailable(error)
    return error


class ScriptRunner:
    """Runs named scripts on a client; ``batch=False`` sends each call on its own.

    On one node or under Sentinel the scripts run as the ``qms`` function library (FCALL);
    on a Cluster as scripts by SHA (see queue_server/scripts.py for why)."""

    def __init__(
        self,
        client: RedisClient,
        *,
        batch: bool = True,
        max_batch: int = 256,
        max_inflight: int = 4,
        high_water: HighWater | None = None,
        wait_replicas: int = 0,
        wait_ms: int = 100,
    ) -> None:
        self.client = client
        # The numbers this process has handed out (engine.py reports its answers to it).
        self.high_water = high_water or HighWater()
        self.scripts = all_scripts()
        self.functions = not is_cluster(client)
        # WAIT after every pipeline of writes: an answer leaves only once ``wait_replicas``
        # replicas have its writes (or ``wait_ms`` passed), so a failover to one of them
        # cannot lose it (docs/reliability.md). On a Cluster WAIT has no node to go to.
        self.wait_replicas = wait_replicas if self.functions else 0
        self.wait_ms = wait_ms
        self._unreplicated = OutageLog(log)
        self.batch = batch
        self.max_batch = max_batch
        self.max_inflight = max_inflight
        self._pending: list[_Call] = []
        self._inflight = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def load(self) -> None:
        """Load the library (or, on a cluster, every script on every primary)."""
        try:
            if self.functions:
                await self.client.execute_command("FUNCTION", "LOAD", "REPLACE",
                                                  library_source())
            else:
                for script in self.scripts.values():
                    await self.client.script_load(script.source)
        except Exception as error:
            raise translate_error(error) from error

    async def run(self, name: str, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        """The script's answer; a QmsError for a refusal, Unavailable when Redis is away
        (after resending what is safe to resend, see SAFE_TO_RESEND)."""
        if not self._safe_to_resend(name, args):
            return await self._run_once(name, keys, args)
        for delay in RESEND_AFTER_S:
            try:
                return await self._run_once(name, keys, args)
            except Unavailable:
                await asyncio.sleep(delay)
        return await self._run_once(name, keys, args)

    def _safe_to_resend(self, name: str, args: Sequence[Arg]) -> bool:
        if name in SAFE_TO_RESEND:
            return True
        return name not in BARE_SCRIPTS and bool(args) and args[0] not in ("", b"")

    async def _run_once(self, name: str, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        script = self.scripts[name]
        if not self.batch:
            try:
                return await self._evalsha(script, keys, args)
            except Exception as error:
                raise translate_error(error) from error
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((script, keys, args, future))
        self._schedule()
        return await future

    def _command(self, script: Script, keys: Sequence[str], args: Sequence[Arg]) -> list[Any]:
        if self.functions:
            return ["FCALL", script.function, len(keys), *keys, *args]
        return ["EVALSHA", script.sha, len(keys), *keys, *args]

    async def _evalsha(self, script: Script, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        try:
            if self.wait_replicas:
                result = (await self._pipeline([(script, keys, args)]))[0]
                if isinstance(result, Exception):
                    raise result
                return result
            return await self.client.execute_command(*self._command(script, keys, args))
        except (NoScriptError, ResponseError) as error:
            if not _missing(error):
                raise
            return await self._reload_and_call(script, keys, args)

    async def _reload_and_call(self, script: Script, keys: Sequence[str],
                               args: Sequence[Arg]) -> Any:
        # A restarted or failed-over server lost the code: load it again and retry once.
        if self.functions:
            await self.load()
            return await self.client.execute_command(*self._command(script, keys, args))
        return await self.client.eval(script.source, len(keys), *keys, *args)

    def _schedule(self) -> None:
        if self._scheduled or self._inflight >= self.max_inflight or not self._pending:
            return
        self._scheduled = True
        # call_soon, not now: every request that is ready in this loop turn joins the batch.
        asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        if not self._pending or self._inflight >= self.max_inflight:
            return
        batch = self._pending[: self.max_batch]
        del self._pending[: self.max_batch]
        self._inflight += 1
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[_Call]) -> None:
        try:
            results = await self._execute(batch)
        except Exception as error:
            failure = translate_error(error)
            for *_, future in batch:
                if not future.done():
                    future.set_exception(failure)
        else:
            for (script, keys, args, future), result in zip(batch, results, strict=True):
                if _missing(result):
                    try:
                        result = await self._reload_and_call(script, keys, args)
                    except Exception as error:
                        result = error
                if future.done():
                    continue
                try:
                    if isinstance(result, Exception):
                        future.set_exception(translate_error(result))
                    else:
                        future.set_result(result)
                except Exception as error:  # never leave a caller waiting for nothing
                    future.set_exception(error)
        finally:
            self._inflight -= 1
            self._schedule()

    async def _execute(self, batch: list[_Call]) -> list[Any]:
        if len(batch) == 1 and not self.wait_replicas:
            script, keys, args, _ = batch[0]
            try:
                return [await self.client.execute_command(*self._command(script, keys, args))]
            except (ResponseError, NoScriptError) as error:
                return [error]
        return await self._pipeline([call[:3] for call in batch])

    async def _pipeline(self, calls: list[tuple[Script, Sequence[str], Sequence[Arg]]]
                        ) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        for script, keys, args in calls:
            # execute_command, not pipe.evalsha: redis-py's ClusterPipeline refuses the latter.
            pipe.execute_command(*self._command(script, keys, args))
        if self.wait_replicas:
            # On the pipeline's own connection: WAIT covers what this connection wrote.
            pipe.execute_command("WAIT", self.wait_replicas, self.wait_ms)
        results: list[Any] = await pipe.execute(raise_on_error=False)
        if self.wait_replicas:
            acked = results.pop()
            if not isinstance(acked, int) or acked < self.wait_replicas:
                self._unreplicated.failed(
                    f"answered before {self.wait_replicas} replica(s) had the writes",
                    RuntimeError(f"WAIT {self.wait_replicas} {self.wait_ms} gave {acked!r}"))
        return results

    async def aclose(self) -> None:
        for task in list(self._tasks):
            await asyncio.gather(task, return_exceptions=True)
