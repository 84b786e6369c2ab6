"""Redis stream ids (``<ms>-<seq>``) compared as numbers."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=4096)  # the fan-out compares the same few ids once per socket
def id_tuple(stream_id: str) -> tuple[int, int]:
    """Stream ids compare as (milliseconds, sequence)."""
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)
