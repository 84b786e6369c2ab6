"""Errors as ``application/problem+json`` (RFC 9457), rendered from the message catalogue.

Every answer has ``type`` (``/problems/<code>``, stable), ``title`` ("Vietnamese / English" of
the kind), ``status``, ``reason`` (the stable catalogue key of the specific sentence),
``fields`` (the values that sentence names) and ``detail`` (the sentence, "Vietnamese —
English"); a 422 always adds ``errors`` (one ``{field, reason, problem}`` a field), a 429 or
503 ``retry_after`` with a ``Retry-After`` header. Never a stack trace.

Bodies: a body that is not JSON is 400 ``bad-request``; a missing (empty) body where one is
required, or a JSON body that is not the expected object, is 422 ``invalid-input``, on every
route (the lean routes of api/fast.py included). A browser asking for a page that does not
exist gets an HTML page (queue_server/web.py) instead of the JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from queue_server import messages
from queue_server.errors import QmsError, RateLimited

log = logging.getLogger("qms.api")
MEDIA_TYPE = "application/problem+json"
STATUS_CODES = {400: "bad-request", 404: "not-found", 405: "method-not-allowed",
                401: "unauthenticated", 403: "forbidden", 409: "conflict",
                422: "invalid-input", 429: "rate-limited", 503: "unavailable"}


def _plain(value: Any) -> Any:
    """Field values as JSON: text, numbers, booleans and lists of them."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple | set):
        return [_plain(item) for item in value]
    return str(value)


def problem(status: int, code: str, detail: str = "", *, reason: str | None = None,
            fields: Mapping[str, Any] | None = None, vi: str | None = None,
            errors: Sequence[Mapping[str, Any]] | None = None, **extra: Any) -> JSONResponse:
    """A problem answer. ``reason`` and ``fields`` pick and fill the catalogue's sentence;
    without a reason (older callers) the kind's sentence is the Vietnamese and ``detail``
    the English. ``vi`` overrides the Vietnamese sentence (several sentences joined)."""
    values = {name: _plain(value) for name, value in (fields or {}).items()}
    key = reason or code.replace("-", "_")
    vietnamese = vi or messages.render(key, values, "vi")
    english = detail or messages.render(key, values, "en")
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": f"{messages.title(code, 'vi')} / {messages.title(code, 'en')}",
        "status": status, "reason": key, "fields": values,
        "detail": f"{vietnamese} — {english}",
    }
    if status == 422:
        body["errors"] = [dict(item) for item in errors] if errors else [
            {"field": str(values.get("field") or "request"), "reason": key,
             "problem": f"{vietnamese} — {english}"}]
    elif errors:
        body["errors"] = [dict(item) for item in errors]
    body.update(extra)
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def error_problem(error: QmsError) -> JSONResponse:
    vi, en = messages.describe(error)
    extra: dict[str, Any] = {}
    if isinstance(error, RateLimited):
        extra["retry_after"] = error.retry_after
    return problem(error.status, error.code, en, reason=error.reason, fields=error.fields,
                   vi=vi, **extra)


# Pydantic's error types, as the catalogue's reasons and the fields their sentences name.
_VALIDATION_REASONS = {
    "missing": "field_missing", "string_too_short": "field_too_short",
    "string_too_long": "field_too_long", "too_short": "field_too_short",
    "too_long": "field_too_long", "greater_than_equal": "field_too_small",
    "greater_than": "field_too_small", "less_than_equal": "field_too_large",
    "less_than": "field_too_large", "int_parsing": "field_not_a_number",
    "int_type": "field_not_a_number", "int_from_float": "field_not_a_number",
    "float_parsing": "field_not_a_number", "string_type": "field_not_text",
    "bool_parsing": "field_not_boolean", "bool_type": "field_not_boolean",
    "dict_type": "field_not_an_object", "model_type": "field_not_an_object",
    "model_attributes_type": "field_not_an_object", "list_type": "field_not_a_list",
    "literal_error": "field_not_a_choice", "enum": "field_not_a_choice",
    "string_pattern_mismatch": "field_pattern", "extra_forbidden": "field_unexpected",
}
_CONTEXT = {"min_length": "min", "max_length": "max", "ge": "min", "gt": "min", "le": "max",
            "lt": "max", "expected": "choices"}


def _field_error(item: Mapping[str, Any]) -> dict[str, Any]:
    loc = [str(part) for part in item.get("loc", ())]
    where = ".".join(loc)
    shown = ".".join(loc[1:]) if len(loc) > 1 and loc[0] in ("body", "query", "path",
                                                            "header") else where
    fields: dict[str, Any] = {"field": shown or "body", "problem": str(item.get("msg", ""))}
    for name, value in (item.get("ctx") or {}).items():
        if name in _CONTEXT:
            fields[_CONTEXT[name]] = _plain(value)
    reason = _VALIDATION_REASONS.get(str(item.get("type")), "field_invalid")
    if "CCCD" in fields["problem"]:
        reason = "cccd_malformed"
    vi = messages.render(reason, fields, "vi")
    en = messages.render(reason, fields, "en")
    return {"field": where or "body", "reason": reason, "problem": f"{vi} — {en}",
            "_vi": vi, "_en": en, "_fields": fields}


def validation_problem(raw: Sequence[Mapping[str, Any]]) -> JSONResponse:
    if any(item.get("type") == "json_invalid" for item in raw):
        # Not JSON at all is a malformed request (400), not an invalid value (422).
        return problem(400, "bad-request", reason="body_not_json")
    items = [_field_error(item) for item in raw] or [_field_error({"type": "missing",
                                                                   "loc": ("body",)})]
    errors = [{k: v for k, v in item.items() if not k.startswith("_")} for item in items]
    if len(items) == 1:
        only = items[0]
        return problem(422, "invalid-input", only["_en"], reason=only["reason"],
                       fields=only["_fields"], vi=only["_vi"], errors=errors)
    vi = " ".join(item["_vi"] for item in items[:5])
    en = " ".join(item["_en"] for item in items[:5])
    names = [item["_fields"]["field"] for item in items]
    return problem(422, "invalid-input", en, reason="body_invalid", fields={"fields": names},
                   vi=vi, errors=errors)


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `type` and `reason` are stable, `detail` is "
                   "the catalogue's sentence, Vietnamese first.",
    "required": ["type", "title", "status", "reason", "fields", "detail"],
    "properties": {
        "type": {"type": "string", "examples": ["/problems/forbidden"]},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "reason": {"type": "string", "examples": ["ticket_token_mismatch"],
                   "description": "the message catalogue's key (GET /api/v1/messages)"},
        "fields": {"type": "object", "description": "the values the sentence names"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "description": "always on a 422", "items": {
            "type": "object", "required": ["field", "reason", "problem"],
            "properties": {"field": {"type": "string"}, "reason": {"type": "string"},
                           "problem": {"type": "string"}}}},
        "retry_after": {"type": "integer", "description": "seconds (also in Retry-After)"},
    },
}


def describe_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI document say what errors really are: problem+json for every 4xx and
    for 503, instead of FastAPI's default 422 body (which this app never sends)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    content = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses.setdefault("4XX", {"description": "Refused: see the problem's `type`"})
            responses.setdefault("503", {"description": "Redis cannot be reached: retry later"})
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = content
    return schema


def install(app: FastAPI) -> None:
    from queue_server import web

    original_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe_problems(original_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(QmsError)
    async def qms_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, QmsError)
        if error.status >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, error)
        if web.wants_page(request):
            return web.error_page(request, error.status, *messages.describe(error))
        return error_problem(error)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return validation_problem(error.errors())

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        path = request.url.path
        if error.status_code == 404:
            if web.wants_page(request):
                return web.not_found_page(request)
            return problem(404, "not-found", reason="unknown_path", fields={"path": path})
        if error.status_code == 405:
            return problem(405, "method-not-allowed", reason="method_not_allowed",
                           fields={"method": request.method, "path": path})
        code = STATUS_CODES.get(error.status_code, "invalid-input")
        return problem(error.status_code, code, str(error.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(500, "internal", reason="internal")
