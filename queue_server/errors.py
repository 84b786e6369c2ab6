"""The one exception tree of the queue system.

::

    QmsError
    ├── ConfigError            the province configuration is malformed (names file and key)
    ├── InvalidInput           a wrong type or value (names it, says what was expected)
    ├── Unauthenticated        no valid token (401)
    ├── Forbidden              a valid token without the right role or center (403)
    ├── RateLimited            too many requests in a window (429, with retry_after)
    ├── NotFound
    │   ├── UnknownCenter
    │   ├── UnknownService
    │   ├── UnknownCounter
    │   └── UnknownTicket
    ├── Conflict               the request is well-formed but the current state forbids it
    │   ├── IllegalTransition  a ticket cannot move from its status to the asked one
    │   ├── CounterStateError  the counter is closed/paused/busy/taken for this action
    │   └── IdempotencyMismatch  an Idempotency-Key reused for a different request
    └── Unavailable            the state store cannot be reached

Every exception carries ``code`` (a stable machine name used as the problem ``type`` on the
wire), ``reason`` (a stable snake_case key of the message catalogue, ``queue_server/locale``:
the sentence a person reads, Vietnamese first) and ``fields`` (the values that sentence needs:
what was expected and what arrived). Its ``str`` is one English sentence for logs; people are
shown ``queue_server.messages.render(reason, fields)`` instead. A class names its default
``reason`` (the sentence of the whole kind); a raise names a specific one where it can::

    raise CounterStateError(reason="counter_busy", counter="2", ticket="A023")
"""

from __future__ import annotations

from typing import Any


class QmsError(Exception):
    """Root of every error the queue system raises on purpose.

    ``message`` is optional when ``reason`` is given: the English sentence of the catalogue,
    with the fields filled in, is used for logs then."""

    code = "qms-error"
    status = 400
    reason = "qms_error"

    def __init__(self, message: str = "", *, reason: str | None = None, **fields: Any) -> None:
        # A reason named by the raise is specific: its English sentence is the catalogue's.
        self.reason_given = reason is not None
        if reason is not None:
            self.reason = reason
        self.fields = fields
        if not message:
            from queue_server.messages import render

            message = render(self.reason, fields, "en")
        super().__init__(message)
        self.message = message


class ConfigError(QmsError):
    code = "config-error"
    reason = "config_error"


class InvalidInput(QmsError, ValueError):
    code = "invalid-input"
    reason = "invalid_input"
    status = 422


class Unauthenticated(QmsError):
    code = "unauthenticated"
    reason = "unauthenticated"
    status = 401


class Forbidden(QmsError):
    code = "forbidden"
    reason = "forbidden"
    status = 403


class RateLimited(QmsError):
    code = "rate-limited"
    reason = "rate_limited"
    status = 429

    def __init__(self, message: str = "", retry_after: int = 1, *, reason: str | None = None,
                 **fields: Any) -> None:
        super().__init__(message, reason=reason, retry_after=retry_after, **fields)
        self.retry_after = retry_after


class NotFound(QmsError, LookupError):
    code = "not-found"
    reason = "not_found"
    status = 404


class UnknownCenter(NotFound):
    code = "unknown-center"
    reason = "unknown_center"


class UnknownService(NotFound):
    code = "unknown-service"
    reason = "unknown_service"


class UnknownCounter(NotFound):
    code = "unknown-counter"
    reason = "unknown_counter"


class UnknownTicket(NotFound):
    code = "unknown-ticket"
    reason = "unknown_ticket"


class Conflict(QmsError):
    code = "conflict"
    reason = "conflict"
    status = 409


class IllegalTransition(Conflict):
    code = "illegal-transition"
    reason = "illegal_transition"


class CounterStateError(Conflict):
    code = "counter-state"
    reason = "counter_state"


class IdempotencyMismatch(Conflict):
    code = "idempotency-mismatch"
    reason = "idempotency_mismatch"
    status = 422


class Unavailable(QmsError):
    code = "unavailable"
    reason = "unavailable"
    status = 503


# Lua scripts report refusals as "QMS <code> <reason> <json fields>" (or, in the first form,
# "QMS <code> <detail>"); this maps the code back to a class.
ERRORS_BY_CODE: dict[str, type[QmsError]] = {
    cls.code: cls
    for cls in (
        InvalidInput,
        UnknownCenter,
        UnknownService,
        UnknownCounter,
        UnknownTicket,
        IllegalTransition,
        CounterStateError,
        IdempotencyMismatch,
        Forbidden,
        Conflict,
    )
}
