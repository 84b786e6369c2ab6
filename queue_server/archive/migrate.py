"""Bringing the archive's schema to the newest revision: at start, and by ``alembic upgrade
head`` (the repository's ``alembic.ini``). Idempotent: an up-to-date schema is left alone."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config

from queue_server.errors import ConfigError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x716D7361  # 'qmsa': pg_advisory_lock key held while migrating
# Alembic's `context` is one module-level proxy: migrations of one process go one at a time
# (other processes wait on the advisory lock instead).
_ONE_AT_A_TIME = threading.Lock()


def sqlalchemy_url(url: str) -> str:
    """``postgresql://…`` as SQLAlchemy names the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def resolve_url(url: str | None) -> str:
    """The archive's database: the given URL, ``QMS_DATABASE_URL``, else the embedded server
    running under ``$QMS_DATA_DIR/postgres``."""
    from queue_server.embedded_postgres import running_database_url

    chosen = url or os.environ.get("QMS_DATABASE_URL") or running_database_url(
        Path(os.environ.get("QMS_DATA_DIR", "var")) / "postgres")
    if not chosen:
        raise ConfigError(
            "No archive database: pass a URL, set QMS_DATABASE_URL, or start the queue server "
            "(python -m queue_server run) so its embedded PostgreSQL is running.",
            key="QMS_DATABASE_URL")
    return chosen


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # '%' would be read as interpolation by configparser (a password may hold one).
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Migrate to ``head`` (blocking: run it in a thread from async code)."""
    with _ONE_AT_A_TIME:
        command.upgrade(alembic_config(url), "head")


def current_revision(url: str) -> str | None:
    import psycopg

    with psycopg.connect(url) as conn:
        exists = conn.execute("SELECT to_regclass('alembic_version')").fetchone()
        if exists is None or exists[0] is None:
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return None if row is None else str(row[0])
