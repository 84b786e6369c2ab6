"""The HTTP API under /api/v1: thin handlers over the engine (parse, authorize, call, answer)."""
