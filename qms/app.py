"""The whole application: the core (``queue_server.app``) with the pages of every package."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from counters.routes import router as counter_pages
from displays.routes import router as display_pages
from monitoring.archive_pages import router as archive_pages
from monitoring.routes import router as monitoring_pages
from queue_server.app import create_app as create_core_app
from queue_server.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# Pages and their helpers live beside the code they show; each package exposes one router.
ROUTERS = (display_pages, counter_pages, monitoring_pages, archive_pages)
STATIC = tuple((f"/static/{name}", ROOT / name / "static")
               for name in ("displays", "counters", "monitoring"))


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_core_app(settings, routers=ROUTERS, static=STATIC)
