"""Errors as ``application/problem+json`` (RFC 9457): a stable ``type``, a ``title``, the
status, and a ``detail`` in Vietnamese first and English second. Never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from queue_server.errors import QmsError, RateLimited

log = logging.getLogger("qms.api")
MEDIA_TYPE = "application/problem+json"

# What a person is told, per error code (Vietnamese / English).
TITLES: dict[str, tuple[str, str]] = {
    "bad-request": ("Yêu cầu không đúng định dạng", "Malformed request"),
    "invalid-input": ("Dữ liệu không hợp lệ", "Invalid input"),
    "unauthenticated": ("Chưa đăng nhập hoặc phiên đã hết hạn", "Not logged in or login expired"),
    "forbidden": ("Không có quyền thực hiện", "Not allowed"),
    "rate-limited": ("Quá nhiều yêu cầu, vui lòng thử lại sau", "Too many requests, retry later"),
    "not-found": ("Không tìm thấy", "Not found"),
    "unknown-center": ("Không tìm thấy trung tâm", "Unknown center"),
    "unknown-service": ("Không tìm thấy dịch vụ", "Unknown service"),
    "unknown-counter": ("Không tìm thấy quầy", "Unknown counter"),
    "unknown-ticket": ("Không tìm thấy số thứ tự", "Unknown ticket"),
    "conflict": ("Xung đột trạng thái", "Conflict"),
    "illegal-transition": ("Thao tác không hợp lệ với trạng thái hiện tại của số",
                           "Not possible in the ticket's current state"),
    "counter-state": ("Thao tác không hợp lệ với trạng thái hiện tại của quầy",
                      "Not possible in the counter's current state"),
    "idempotency-mismatch": ("Khóa chống trùng đã dùng cho yêu cầu khác",
                             "Idempotency key reused for another request"),
    "unavailable": ("Hệ thống tạm thời gián đoạn, vui lòng thử lại",
                    "Temporarily unavailable, please retry"),
    "method-not-allowed": ("Phương thức không được hỗ trợ", "Method not allowed"),
    "unknown-voice": ("Không có giọng đọc này", "Unknown voice"),
    "speech-render-failed": ("Không tạo được âm thanh thông báo",
                             "The announcement audio could not be made"),
    "internal": ("Lỗi hệ thống", "Internal error"),
}
STATUS_CODES = {400: "bad-request", 404: "not-found", 405: "method-not-allowed",
                401: "unauthenticated", 403: "forbidden", 409: "conflict",
                422: "invalid-input", 429: "rate-limited", 503: "unavailable"}


def problem(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    vi, en = TITLES.get(code, TITLES["internal"])
    body = {"type": f"/problems/{code}", "title": f"{vi} / {en}", "status": status,
            "detail": f"{vi}. — {detail}", **extra}
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `type` is stable, `detail` is Vietnamese first.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "examples": ["/problems/forbidden"]},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["field", "problem"],
            "properties": {"field": {"type": "string"}, "problem": {"type": "string"}}}},
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
    original_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe_problems(original_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(QmsError)
    async def qms_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, QmsError)
        extra: dict[str, Any] = {}
        if isinstance(error, RateLimited):
            extra["retry_after"] = error.retry_after
        if error.status >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, error)
        return problem(error.status, error.code, str(error), **extra)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        fields = []
        for item in error.errors():
            where = ".".join(str(part) for part in item.get("loc", ()))
            fields.append({"field": where, "problem": item.get("msg", "invalid")})
        summary = "; ".join(f"{f['field']}: {f['problem']}" for f in fields[:5])
        if any(item.get("type") == "json_invalid" for item in error.errors()):
            # Not JSON at all is a malformed request (400), not an invalid value (422).
            return problem(400, "bad-request", summary or "the body is not valid JSON",
                           errors=fields)
        return problem(422, "invalid-input", summary or "the request is not valid", errors=fields)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        code = STATUS_CODES.get(error.status_code, "invalid-input")
        return problem(error.status_code, code, str(error.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(500, "internal", "an unexpected error was logged; please retry")
