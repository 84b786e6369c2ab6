"""Entry point for ``uvicorn qms.asgi:create --factory`` (settings from QMS_*)."""

from __future__ import annotations

from fastapi import FastAPI

from qms.app import create_app
from queue_server.settings import Settings


def create() -> FastAPI:
    return create_app(Settings.from_env())
