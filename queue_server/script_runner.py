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
import re
from collections.abc import Sequence
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from queue_server.errors import ERRORS_BY_CODE, QmsError, Unavailable
from queue_server.redis_client import RedisClient, is_cluster
from queue_server.refusals import from_reply
from queue_server.scripts import Script, all_scripts, library_source

Arg = str | int | float | bytes
_Call = tuple[Script, Sequence[str], Sequence[Arg], asyncio.Future[Any]]
_REASON = re.compile(r"^[a-z][a-z0-9_]*$")


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
    if isinstance(error, RedisConnectionError | RedisTimeoutError | OSError):
        return Unavailable(f"the state store (Redis) cannot be reached: {error}")
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
    ) -> None:
        self.client = client
        self.scripts = all_scripts()
        self.functions = not is_cluster(client)
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
        if len(batch) == 1:
            script, keys, args, _ = batch[0]
            try:
                return [await self.client.execute_command(*self._command(script, keys, args))]
            except (ResponseError, NoScriptError) as error:
                return [error]
        pipe = self.client.pipeline(transaction=False)
        for script, keys, args, _ in batch:
            # execute_command, not pipe.evalsha: redis-py's ClusterPipeline refuses the latter.
            pipe.execute_command(*self._command(script, keys, args))
        results: list[Any] = await pipe.execute(raise_on_error=False)
        return results

    async def aclose(self) -> None:
        for task in list(self._tasks):
            await asyncio.gather(task, return_exceptions=True)
