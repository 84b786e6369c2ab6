"""Alembic migrations of the archive (``alembic upgrade head``, also run at start)."""
