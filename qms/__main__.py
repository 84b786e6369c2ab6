"""``python -m qms``: run the system, or bootstrap accounts and devices.

Commands:
  run             start Redis (embedded unless QMS_REDIS_URL is set) and the server; print the
                  address of every page
  create-account  add a staff, supervisor or province account (the first ones come from here)
  create-device   add a kiosk, display or counter screen token for a center (printed once)
  summary         print the province as loaded (centers, services, counters)
  metrics-token   print the token Prometheus sends to read /metrics
  backup FILE     a snapshot (RDB) of the live state, taken while the server runs
  restore FILE    put a snapshot back into the embedded server's folder (server stopped)
  archive-backup FILE   a dump (pg_dump) of the archive's database, taken while it serves
  archive-restore FILE  put such a dump back into the archive, in one transaction (server
                        stopped)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from queue_server.errors import QmsError

if TYPE_CHECKING:
    from queue_server.settings import Settings

HELP = """Hệ thống xếp hàng / Queue system.

Settings come from QMS_* environment variables (docs/operations.md): QMS_REDIS_URL (none: an
embedded Redis under QMS_DATA_DIR), QMS_PORT (HTTP, default 8000), QMS_WS_PORT (WebSocket,
default 8001), QMS_PROVINCE_FILE, QMS_PUBLIC_URL."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m qms", description=HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the server (embedded Redis by default)")
    run.add_argument("--workers", type=int, default=1,
                     help="uvicorn worker processes (needs QMS_REDIS_URL or uses the embedded "
                          "server started here)")
    run.add_argument("--bootstrap", action="store_true",
                     help="demo accounts and a kiosk, display and counter screen token of the "
                          "center (made once, reused); prints them and each page's address")
    run.add_argument("--center", help="the center whose pages are printed (default: the "
                                      "first of the province file)")
    account = commands.add_parser("create-account", help="add a staff/supervisor/province account")
    account.add_argument("username")
    account.add_argument("--name", required=True)
    account.add_argument("--role", choices=["staff", "supervisor", "province"], default="staff")
    account.add_argument("--center", help="center code (not for province accounts)")
    account.add_argument("--password", help="default: asked on the terminal, or "
                                            "QMS_NEW_PASSWORD")
    device = commands.add_parser("create-device",
                                 help="add a kiosk, display or counter screen token")
    device.add_argument("kind", choices=["kiosk", "display", "screen"])
    device.add_argument("--center", required=True)
    device.add_argument("--label", default="")
    commands.add_parser("summary", help="print the province as loaded")
    backup = commands.add_parser(
        "backup", help="write a snapshot (RDB) of the Redis in use to FILE, while it serves")
    backup.add_argument("file")
    restore = commands.add_parser(
        "restore", help="replace the embedded Redis's data with the snapshot FILE (stop the "
                        "server first; the current AOF is moved aside, not deleted)")
    restore.add_argument("file")
    archive_backup = commands.add_parser(
        "archive-backup", help="write a dump (pg_dump, custom format) of the archive's "
                               "database to FILE, while the server serves")
    archive_backup.add_argument("file")
    archive_restore = commands.add_parser(
        "archive-restore", help="replace the archive's content with the dump FILE, in one "
                                "transaction (stop the server first)")
    archive_restore.add_argument("file")
    commands.add_parser("metrics-token",
                        help="print the bearer token Prometheus sends to read /metrics "
                             "(QMS_METRICS_TOKEN, else derived from the secret key)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from queue_server.settings import Settings

    try:
        settings = Settings.from_env()
        if args.command == "run":
            from qms.runner import run

            return run(settings, workers=args.workers, bootstrap=args.bootstrap,
                       center=args.center)
        if args.command == "summary":
            from qms.runner import print_summary

            print_summary(settings)
            return 0
        if args.command in ("backup", "restore"):
            return _backup_or_restore(settings, args.command, args.file)
        if args.command in ("archive-backup", "archive-restore"):
            return _archive_backup_or_restore(settings, args.command, args.file)
        if args.command == "metrics-token":
            from queue_server.auth import TokenSigner
            from queue_server.services import scrape_token_of

            settings = settings.with_secret()
            print(settings.metrics_token or scrape_token_of(TokenSigner(settings.secret_key, 1)))
            return 0
        from queue_server import bootstrap

        if args.command == "create-account":
            password = args.password or os.environ.get("QMS_NEW_PASSWORD") or getpass.getpass()
            line = asyncio.run(bootstrap.create_account(
                settings, args.username, password, args.name, args.role, args.center))
        else:
            line = asyncio.run(bootstrap.create_device(settings, args.kind, args.center,
                                                       args.label))
        print(line)
        return 0
    except QmsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _archive_backup_or_restore(settings: Settings, command: str, file: str) -> int:
    from pathlib import Path

    from queue_server.archive import backup
    from queue_server.embedded import EmbeddedServerError

    backing_up = command == "archive-backup"
    try:
        with contextlib.ExitStack() as stack:
            url = settings.database_url or stack.enter_context(backup.embedded_database(
                settings.data_dir / "postgres", shared=backing_up))
            if backing_up:
                print(f"wrote {file} ({backup.dump(url, Path(file)):,} bytes)")
            else:
                backup.load(url, Path(file))
                print(f"restored {file} into the archive; each center's archiver resumes from "
                      "the restored checkpoint at the next start")
    except EmbeddedServerError as error:     # no PostgreSQL binaries of the right version
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _backup_or_restore(settings: Settings, command: str, file: str) -> int:
    from pathlib import Path

    from queue_server import backup
    from queue_server.redis_child import running_server_url

    folder = settings.data_dir / "redis"
    if command == "restore":
        if settings.redis_url is not None:
            print("error: restore puts a snapshot into the embedded server's folder; for "
                  "QMS_REDIS_URL follow docs/reliability.md", file=sys.stderr)
            return 2
        aside = backup.restore(folder, Path(file))
        print(f"restored {file} into {folder}" + (f"; the previous AOF is in {aside}"
                                                   if aside else ""))
        return 0
    url = settings.redis_url or running_server_url(folder)
    if url is None:
        print(f"error: no Redis to back up: set QMS_REDIS_URL, or run the server on {folder}",
              file=sys.stderr)
        return 2
    size = backup.backup(url, Path(file))
    print(f"wrote {file} ({size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())


