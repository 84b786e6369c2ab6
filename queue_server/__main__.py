"""``python -m queue_server``: run the system, or bootstrap accounts and devices.

Commands:
  run             start Redis (embedded unless QMS_REDIS_URL is set) and the server; print the
                  address of every page
  create-account  add a staff, supervisor or province account (the first ones come from here)
  create-device   add a kiosk, display or counter screen token for a center (printed once)
  summary         print the province as loaded (centers, services, counters)
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Sequence

from queue_server.errors import QmsError

HELP = """Hệ thống xếp hàng / Queue system.

Settings come from QMS_* environment variables (docs/operations.md): QMS_REDIS_URL (none: an
embedded Redis under QMS_DATA_DIR), QMS_PORT (HTTP, default 8000), QMS_WS_PORT (WebSocket,
default 8001), QMS_PROVINCE_FILE, QMS_PUBLIC_URL."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m queue_server", description=HELP,
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from queue_server.settings import Settings

    try:
        settings = Settings.from_env()
        if args.command == "run":
            from queue_server.runner import run

            return run(settings, workers=args.workers, bootstrap=args.bootstrap,
                       center=args.center)
        if args.command == "summary":
            from queue_server.runner import print_summary

            print_summary(settings)
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


if __name__ == "__main__":
    sys.exit(main())


