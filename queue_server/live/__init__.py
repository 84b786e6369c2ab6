"""Live feeds: one stream reader per process, fanned out to WebSocket subscribers."""
