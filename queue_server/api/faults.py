"""HTTP answers for faults that are nobody's bad input: Redis away, a client that hung up.

- Redis unavailable (``Unavailable``, or any redis-py error that means an outage, wherever it
  was raised: a script, a token lookup, a replay read): a 503 problem with ``Retry-After``,
  fast, never a 500; logged once per few seconds however many requests it refused.
- A client that disconnects while its request is read (``ClientDisconnect``): nobody is
  there to answer; logged at debug, not as an "unexpected error" with its traceback.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from redis.exceptions import RedisError
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response

from queue_server.api.problems import problem
from queue_server.errors import Unavailable
from queue_server.outages import RETRY_AFTER_S, OutageLog, as_unavailable, is_outage

log = logging.getLogger("qms.api")


def unavailable(error: BaseException) -> JSONResponse:
    return problem(503, "unavailable", str(as_unavailable(error)), retry_after=RETRY_AFTER_S)


def install(app: FastAPI) -> None:
    outages = OutageLog(log)

    async def store_away(request: Request, error: Exception) -> Response:
        if not is_outage(error):
            log.error("unexpected Redis error on %s %s", request.method, request.url.path,
                      exc_info=error)
            return problem(500, "internal", "an unexpected error was logged; please retry")
        outages.failed(f"{request.method} {request.url.path} answered 503", error)
        return unavailable(error)

    async def hung_up(request: Request, error: Exception) -> Response:
        log.debug("%s %s: the client disconnected", request.method, request.url.path)
        return Response(status_code=400)

    app.add_exception_handler(Unavailable, store_away)
    app.add_exception_handler(RedisError, store_away)
    app.add_exception_handler(ClientDisconnect, hung_up)
