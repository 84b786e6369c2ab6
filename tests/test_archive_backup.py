"""Backup and restore of the archive, once, through the commands an operator runs:
``python -m qms archive-backup FILE`` while its PostgreSQL serves, ``archive-restore FILE``
refused while it runs and accepted once stopped; the dump's moment comes back, what was
written after it does not, and the checkpoints come back with the rows they account for."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from queue_server.archive.migrate import upgrade
from queue_server.postgres_child import PostgresChild
from tests.archive_support import postgres_folder
from tests.live import ROOT, SECRET
from tests.servers import scaled


@pytest.fixture
def data_dir() -> Iterator[Path]:
    folder = postgres_folder()
    yield folder / "data"
    shutil.rmtree(folder, ignore_errors=True)


def command(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QMS_DATA_DIR": str(data_dir), "QMS_SECRET_KEY": SECRET}
    env.pop("QMS_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "qms", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=scaled(120))


def checkpoints(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT center, events FROM checkpoints").fetchall()
    return {center: events for center, events in rows}


def test_an_archive_dump_taken_while_serving_restores_that_moment(data_dir: Path) -> None:
    child = PostgresChild(data_dir / "postgres")      # what the running queue server holds
    child.start()
    try:
        upgrade(child.url)
        with psycopg.connect(child.url, autocommit=True) as conn:
            conn.execute("INSERT INTO checkpoints (center, events) VALUES ('07054', 12)")
        dump = data_dir.parent / "archive.dump"
        made = command(data_dir, "archive-backup", str(dump))
        assert made.returncode == 0, made.stderr
        assert dump.stat().st_size > 0 and not dump.with_name("archive.dump.partial").exists()
        with psycopg.connect(child.url, autocommit=True) as conn:   # after the dump
            conn.execute("UPDATE checkpoints SET events = 40 WHERE center = '07054'")
            conn.execute("INSERT INTO checkpoints (center, events) VALUES ('06712', 3)")
        refused = command(data_dir, "archive-restore", str(dump))
        assert refused.returncode == 2
        assert "is running: stop the queue server before a restore" in refused.stderr
        assert checkpoints(child.url) == {"07054": 40, "06712": 3}      # nothing touched
    finally:
        child.stop()
    restored = command(data_dir, "archive-restore", str(dump))
    assert restored.returncode == 0, restored.stderr
    child = PostgresChild(data_dir / "postgres")
    child.start()
    try:
        assert checkpoints(child.url) == {"07054": 12}        # the dump's moment
        with psycopg.connect(child.url) as conn:              # the schema's version too
            assert conn.execute("SELECT version_num FROM alembic_version").fetchone()
    finally:
        child.stop()


def test_a_missing_dump_is_named(data_dir: Path) -> None:
    child = PostgresChild(data_dir / "postgres")
    child.start()
    child.stop()
    refused = command(data_dir, "archive-restore", str(data_dir / "nowhere.dump"))
    assert refused.returncode == 2
    assert f"{data_dir / 'nowhere.dump'} is not a file" in refused.stderr
    assert "Traceback" not in refused.stderr
