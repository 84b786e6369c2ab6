"""``python -m queue_server.archive``: the archiver on its own, outside the web server.

Every replica of the web server already runs one; this runs it as a separate process (a
deployment that keeps web replicas free of PostgreSQL, or a catch-up after a long outage).
Settings are the server's (``QMS_REDIS_URL``, ``QMS_DATABASE_URL``, ``QMS_ARCHIVE_*``);
without URLs it uses the embedded servers running under ``QMS_DATA_DIR``. It stops on
SIGTERM or Ctrl-C; a kill at any moment loses nothing (docs/archive.md).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from queue_server.archive.migrate import resolve_url
from queue_server.archive.runtime import ArchiveService
from queue_server.embedded import running_server_url
from queue_server.errors import QmsError
from queue_server.province import load_province
from queue_server.redis_client import close, connect
from queue_server.settings import Settings


async def run(settings: Settings) -> None:
    redis_url = settings.redis_url or running_server_url(settings.data_dir / "redis")
    if not redis_url:
        raise QmsError("No Redis to follow: set QMS_REDIS_URL, or start the queue server "
                       "(python -m qms run) so its embedded Redis is running.",
                       reason="archive_no_redis")
    url = resolve_url(settings.database_url)
    province = load_province(settings.province_file)
    client = connect(redis_url, max_connections=4)
    service = ArchiveService(url, client, province, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    try:
        await stop.wait()
    finally:
        await service.stop()
        await close(client)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m queue_server.archive",
                                     description=__doc__.split("\n\n")[1] if __doc__ else "")
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        asyncio.run(run(Settings.from_env()))
    except QmsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
