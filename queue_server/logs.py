"""The app's own loggers (``qms.*``) print beside uvicorn's, unless the host configured
logging itself (a ``--log-config``, pytest's capture): the supervisor's restarts, an adoption,
an outage's summary must reach the operator."""

from __future__ import annotations

import logging


def log_to_stderr(level: str) -> None:
    logger = logging.getLogger("qms")
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)-9s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level.upper())
