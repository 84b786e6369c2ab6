"""HTTP routes of the displays package, mounted by qms.app.create_app.

Pages (static HTML; their scripts and styles are under ``/static/displays``):

- ``/display/{center}``: the lobby display (device token ``dev.…`` in ``?token=`` once);
- ``/screen/{center}/{counter}``: the counter's own screen (a ``screen`` device token);
- ``/kiosk/{center}``: the ticket kiosk;
- ``/book``: online booking on a phone; ``/t/{ticket_id}``: a citizen's ticket.

API: ``/api/v1/centers/{center}/page-config`` (what the pages need in one read),
``/api/v1/centers/{center}/announcement`` (the words and audio of a call),
``/audio/{key}.wav`` (the cached WAV, immutable) and ``/api/v1/qr`` (an SVG QR code).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import FileResponse, JSONResponse, Response

from displays.announcer import Announcer, announcer_of
from displays.qr import qr_svg
from displays.speech import AUDIO_CACHE_CONTROL, SpeechRenderError, UnknownVoiceError
from queue_server.api.deps import ServicesDep
from queue_server.api.problems import problem
from queue_server.auth import Role
from queue_server.errors import NotFound, Unauthenticated
from queue_server.province import WEEKDAYS
from queue_server.rules.clock import TIMEZONE
from queue_server.services import Services

STATIC = Path(__file__).resolve().parent / "static"
PAGE_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer"}
SPEAKERS = (Role.DISPLAY, Role.STAFF, Role.SUPERVISOR, Role.PROVINCE)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Runs inside the app's lifespan, once its services exist: the speech settings are read
    (a bad ``QMS_SPEECH_*`` stops the start) and the audio cache is made before any call."""
    services: Services | None = getattr(app.state, "services", None)
    if services is not None:
        announcer_of(services.extras, services.settings.audio_dir)
    yield


router = APIRouter(lifespan=lifespan)


def _announcer(services: Services) -> Announcer:
    return announcer_of(services.extras, services.settings.audio_dir)


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type="text/html; charset=utf-8",
                        headers=PAGE_HEADERS)


@router.get("/display/{center_id}", include_in_schema=False)
async def display_page(center_id: str) -> FileResponse:
    return _page("display.html")


@router.get("/screen/{center_id}/{counter_id}", include_in_schema=False)
async def counter_screen_page(center_id: str, counter_id: str) -> FileResponse:
    # An unknown center or counter is said by the page, in the page's language, with what
    # to do next (it reads page-config), as the lobby display does.
    return _page("screen.html")


@router.get("/kiosk/{center_id}", include_in_schema=False)
async def kiosk_page(center_id: str) -> FileResponse:
    return _page("kiosk.html")


@router.get("/book", include_in_schema=False)
async def book_page() -> FileResponse:
    return _page("book.html")


@router.get("/t/{ticket_id}", include_in_schema=False)
async def ticket_page(ticket_id: str) -> FileResponse:
    return _page("ticket.html")


def _hours(services: Services) -> dict[str, list[str]]:
    def hhmm(minute: int) -> str:
        return f"{minute // 60:02d}:{minute % 60:02d}"

    return {day: [f"{hhmm(start)}-{hhmm(end)}" for start, end in intervals]
            for day, intervals in zip(WEEKDAYS, services.province.hours.intervals, strict=True)}


@router.get("/api/v1/centers/{center_id}/page-config", tags=["displays"],
            summary="What the display and kiosk pages need: center, services, hours, sentences")
async def page_config(center_id: str, services: ServicesDep) -> dict[str, Any]:
    province, settings = services.province, services.settings
    center = province.center(center_id)
    now = dt.datetime.now(TIMEZONE)
    return {
        "center": {"id": center.id, "name": center.display_name, "type": center.type,
                   "voice": center.voice,
                   "counters": [{"id": c.id, "name": c.name, "services": list(c.services)}
                                for c in center.counters]},
        "province": province.name,
        "services": [{"id": s.id, "name": s.name, "name_en": s.name_en, "field": s.field,
                      "prefix": s.prefix} for s in province.services],
        "priorities": [{"id": p.id, "name": p.name, "name_en": p.name_en}
                       for p in province.priorities],
        "hours": _hours(services),
        "open_now": not settings.enforce_hours or province.hours.is_open(now),
        "timezone": str(TIMEZONE),
        "now": int(now.timestamp() * 1000),
        "ws_port": services.extras.get("ws_port"),
        "ws_url": services.settings.public_ws_url or None,
        "ws_path": "/ws",
        "templates": _announcer(services).config.templates_json(),
    }


async def _require_speaker(services: Services, center_id: str, authorization: str | None,
                           token: str | None) -> None:
    """Renders cost CPU: only a display, staff, a supervisor or the province may ask."""
    raw = token
    if authorization:
        scheme, _, value = authorization.partition(" ")
        raw = value.strip() if scheme.lower() == "bearer" else None
    if not raw:
        raise Unauthenticated("an announcement needs a display or staff token "
                              "(Authorization: Bearer … or ?token=)",
                              reason="announcement_token_missing")
    principal = await services.principal_from_token(raw)
    principal.require(center_id, *SPEAKERS)


def _speech_problem(error: Exception) -> JSONResponse:
    if isinstance(error, UnknownVoiceError):
        return problem(422, "invalid-input", reason="unknown_voice", fields=error.fields)
    return problem(503, "unavailable", reason="speech_render_failed", retry_after=5)


@router.get("/api/v1/centers/{center_id}/announcement", tags=["displays"],
            summary="The spoken words of a call and the URL of its audio (rendered, cached)")
async def announcement(
    center_id: str,
    services: ServicesDep,
    number: Annotated[str, Query(min_length=1, max_length=16, examples=["A023"])],
    counter: Annotated[str, Query(min_length=1, max_length=16, examples=["5"])],
    recall: Annotated[bool, Query()] = False,
    lang: Annotated[str, Query(max_length=8)] = "vi",
    voice: Annotated[str | None, Query(max_length=16,
                                       description="north, central, south, english; "
                                       "default: the center's voice")] = None,
    token: Annotated[str | None, Query(max_length=512)] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Any:
    center = services.province.center(center_id)
    await _require_speaker(services, center.id, authorization, token)
    announcer = _announcer(services)
    try:
        call = announcer.call(center, number, counter, recall=recall, language=lang,
                              voice=voice)
        text, path = await announcer.render(call)
    except (UnknownVoiceError, SpeechRenderError) as error:
        return _speech_problem(error)
    return announcer.describe(call, text, path.stem)


@router.get("/audio/{key}.wav", tags=["displays"], response_class=FileResponse,
            summary="A rendered call (WAV); immutable, named by the hash of its content")
async def audio(
    key: str,
    request: Request,
    services: ServicesDep,
    center: Annotated[str | None, Query(max_length=16)] = None,
    number: Annotated[str | None, Query(max_length=16)] = None,
    counter: Annotated[str | None, Query(max_length=16)] = None,
    recall: Annotated[bool, Query()] = False,
    lang: Annotated[str, Query(max_length=8)] = "vi",
    voice: Annotated[str | None, Query(max_length=16)] = None,
    token: Annotated[str | None, Query(max_length=512)] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    announcer = _announcer(services)
    path = announcer.cache.path_for_key(key)
    if path is None:
        # Another replica rendered it into its own folder: the query says what to render,
        # and the key must match it (so this cannot render arbitrary text).
        if not (center and number and counter):
            raise NotFound(f"no audio {key}.wav here", reason="unknown_audio")
        place = services.province.center(center)
        await _require_speaker(services, place.id, authorization, token)
        try:
            call = announcer.call(place, number, counter, recall=recall, language=lang,
                                  voice=voice)
            if announcer.text_and_key(call)[1] != key:
                raise NotFound(f"audio {key}.wav does not belong to these parameters",
                               reason="unknown_audio")
            _, path = await announcer.render(call)
        except (UnknownVoiceError, SpeechRenderError) as error:
            return _speech_problem(error)
    headers = {"Cache-Control": AUDIO_CACHE_CONTROL, "ETag": f'"{key}"'}
    if request.headers.get("if-none-match", "").strip() in (f'"{key}"', f'W/"{key}"'):
        return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type="audio/wav", headers=headers)


class QrIn(BaseModel):
    data: str = Field(min_length=1, max_length=512,
                      description="an http(s) URL, or a booking's check-in code (its QR text)")


def _svg(data: str) -> Response:
    return Response(qr_svg(data), media_type="image/svg+xml",
                    headers={"Cache-Control": "private, max-age=3600",
                             "X-Content-Type-Options": "nosniff"})


@router.get("/api/v1/qr", tags=["displays"], response_class=Response,
            summary="A QR code (SVG) for an http(s) link, e.g. the booking page")
async def qr_get(data: Annotated[str, Query(min_length=1, max_length=512)]) -> Response:
    return _svg(data)


@router.post("/api/v1/qr", tags=["displays"], response_class=Response,
             summary="The same from a JSON body: for links holding a secret (a ticket link), "
             "which must not sit in a URL that proxies log")
async def qr_post(body: QrIn) -> Response:
    return _svg(body.data)
