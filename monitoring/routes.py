"""HTTP routes of the monitoring package, mounted by queue_server.app.create_app."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
