"""Alembic's environment for the archive: plain SQL migrations, no ORM models.

The database comes from, in order: ``alembic -x url=…``, the ``sqlalchemy.url`` the caller set
(queue_server.archive.migrate), ``QMS_DATABASE_URL``, else the embedded PostgreSQL running
under ``$QMS_DATA_DIR/postgres`` (started by ``python -m queue_server run``). An advisory lock
makes replicas that start together migrate one after the other.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from queue_server.archive.migrate import MIGRATION_LOCK, resolve_url, sqlalchemy_url

config = context.config
url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
    "sqlalchemy.url") or resolve_url(None)
engine = create_engine(sqlalchemy_url(url))
with engine.connect() as connection:
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
    connection.commit()
    try:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
        connection.commit()
engine.dispose()
