"""What a browser gets besides the pages themselves: security headers on every answer, an HTML
page (not JSON) for a page that does not exist, the list of pages at ``/``, and the API
documentation at ``/docs`` served from the app's own copy of Swagger UI (works offline).

Security headers (docs/api.md, "Security headers"):

- ``Content-Security-Policy``: scripts, styles, images and connections from this server only
  (and its WebSocket port); no inline script or style, no plugin, no framing;
- ``X-Frame-Options: DENY`` for browsers older than ``frame-ancestors``;
- ``Referrer-Policy: no-referrer``: a ticket page's address (which may hold its secret in the
  fragment, and its id in the path) never leaves in a ``Referer`` header;
- ``X-Content-Type-Options: nosniff``, ``Cross-Origin-Opener-Policy: same-origin`` and a
  ``Permissions-Policy`` that refuses camera, microphone and location (nothing here needs
  them: the kiosk's ID-card scanner types like a keyboard).
"""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).resolve().parent / "static"
NOT_PAGES = ("/api/", "/metrics", "/health/", "/openapi.json", "/audio/", "/static/", "/ws/")
BASE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
]


def content_security_policy(host: str, ws_port: int | None, public_ws_url: str | None) -> str:
    """The policy for a page served to ``host``: its live channels are on another port of the
    same host (or at the public WebSocket address behind a proxy), which 'self' does not
    cover."""
    sockets = []
    hostname = urlsplit(f"//{host}").hostname or "localhost"
    if ":" in hostname:
        hostname = f"[{hostname}]"
    if ws_port:
        sockets += [f"ws://{hostname}:{ws_port}", f"wss://{hostname}:{ws_port}"]
    if public_ws_url:
        parts = urlsplit(public_ws_url)
        if parts.scheme in ("ws", "wss") and parts.netloc:
            sockets.append(f"{parts.scheme}://{parts.netloc}")
    return "; ".join([
        "default-src 'self'", "script-src 'self'", "style-src 'self'",
        "img-src 'self' data: blob:", "media-src 'self' blob:", "font-src 'self'",
        "connect-src " + " ".join(["'self'", *sockets]), "object-src 'none'",
        "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
    ])


class SecurityHeaders:
    """Pure ASGI middleware (no per-request task, unlike BaseHTTPMiddleware): adds the
    headers to every HTTP answer, pages and API alike."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._policies: dict[str, bytes] = {}

    def _policy(self, scope: Scope) -> bytes:
        host = next((v.decode("latin-1") for k, v in scope.get("headers", ())
                     if k == b"host"), "localhost")
        policy = self._policies.get(host)
        if policy is None:
            services = getattr(scope.get("app"), "state", None)
            services = getattr(services, "services", None)
            extras = getattr(services, "extras", {}) if services is not None else {}
            settings = getattr(services, "settings", None)
            policy = content_security_policy(host, extras.get("ws_port"),
                                             getattr(settings, "public_ws_url", None)).encode()
            if extras.get("ws_port") and len(self._policies) < 64:
                self._policies[host] = policy
        return policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self._policy(scope)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in BASE_HEADERS if h[0] not in present]
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", policy))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def wants_page(request: Request) -> bool:
    """A browser asking for a page (not the API, not an asset): it gets HTML, not JSON."""
    if request.method not in ("GET", "HEAD"):
        return False
    if request.url.path.startswith(NOT_PAGES):
        return False
    return "text/html" in request.headers.get("accept", "")


def _page(status: int, heading: tuple[str, str], sentence: tuple[str, str],
          next_steps: tuple[str, str]) -> HTMLResponse:
    vi_head, en_head = (html.escape(part) for part in heading)
    vi, en = (html.escape(part) for part in sentence)
    vi_next, en_next = (html.escape(part) for part in next_steps)
    body = f"""<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{vi_head} / {en_head}</title>
<link rel="stylesheet" href="/static/site/site.css">
</head>
<body class="problem-page">
<main>
  <h1>{vi_head} <span class="en" lang="en">/ {en_head}</span></h1>
  <p class="sentence">{vi}</p>
  <p class="en" lang="en">{en}</p>
  <p class="next">{vi_next} <span class="en" lang="en">/ {en_next}</span></p>
  <p><a class="button" href="/">Danh sách các trang <span lang="en">/ All pages</span></a></p>
  <p class="code">HTTP {status}</p>
</main>
</body>
</html>
"""
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


NEXT_STEPS = {
    401: ("Hãy đăng nhập lại, hoặc xin giám sát trung tâm cấp mã thiết bị mới.",
          "Log in again, or ask the center's supervisor for a new device token."),
    403: ("Hãy dùng tài khoản hoặc mã thiết bị của đúng trung tâm này.",
          "Use a login or device token of this very center."),
    404: ("Hãy kiểm tra lại địa chỉ, hoặc chọn trang trong danh sách.",
          "Check the address, or pick the page from the list."),
}


def error_page(request: Request, status: int, vi: str, en: str) -> HTMLResponse:
    from queue_server import messages

    code = {401: "unauthenticated", 403: "forbidden", 404: "not-found"}.get(status, "internal")
    steps = NEXT_STEPS.get(status, ("Hãy thử lại sau giây lát.", "Try again in a moment."))
    return _page(status, (messages.title(code, "vi"), messages.title(code, "en")), (vi, en),
                 steps)


def not_found_page(request: Request) -> HTMLResponse:
    from queue_server import messages

    fields = {"path": request.url.path}
    return error_page(request, 404, messages.render("unknown_path", fields, "vi"),
                      messages.render("unknown_path", fields, "en"))


def index_page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})


def docs_page() -> FileResponse:
    return FileResponse(STATIC / "docs.html", media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})
