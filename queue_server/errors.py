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
wire), ``reason`` (the key of its sentence in the message catalogue: several reasons share a
code) and ``fields`` (what was expected and what arrived), and its ``str`` is one sentence a
person can act on.
"""

from __future__ import annotations

from typing import Any


class QmsError(Exception):
    """Root of every error the queue system raises on purpose."""

    code = "qms-error"
    status = 400

    def __init__(self, message: str, *, reason: str | None = None, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.code.replace("-", "_")
        self.fields = fields


class ConfigError(QmsError):
    code = "config-error"


class InvalidInput(QmsError, ValueError):
    code = "invalid-input"
    status = 422


class Unauthenticated(QmsError):
    code = "unauthenticated"
    status = 401


class Forbidden(QmsError):
    code = "forbidden"
    status = 403


class RateLimited(QmsError):
    code = "rate-limited"
    status = 429

    def __init__(self, message: str, retry_after: int, *, reason: str | None = None) -> None:
        super().__init__(message, reason=reason, retry_after=retry_after)
        self.retry_after = retry_after


class NotFound(QmsError, LookupError):
    code = "not-found"
    status = 404


class UnknownCenter(NotFound):
    code = "unknown-center"


class UnknownService(NotFound):
    code = "unknown-service"


class UnknownCounter(NotFound):
    code = "unknown-counter"


class UnknownTicket(NotFound):
    code = "unknown-ticket"


class Conflict(QmsError):
    code = "conflict"
    status = 409


class IllegalTransition(Conflict):
    code = "illegal-transition"


class CounterStateError(Conflict):
    code = "counter-state"


class IdempotencyMismatch(Conflict):
    code = "idempotency-mismatch"
    status = 422


class Unavailable(QmsError):
    code = "unavailable"
    status = 503


# Lua scripts report refusals as "QMS <code> <detail>"; this maps the code back to a class.
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
