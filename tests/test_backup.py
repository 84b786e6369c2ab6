"""Backup and restore of the live state, once, through the commands an operator runs:
``python -m queue_server backup FILE`` while the server serves, ``restore FILE`` with it
stopped; what was issued before the snapshot is back, what came after is not, the previous
AOF is kept aside, and the server starts and serves on the restored data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.live import ROOT, SECRET, Bootstrap, LiveServer
from tests.servers import scaled

CENTER = "06736"


def command(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QMS_DATA_DIR": str(data_dir), "QMS_SECRET_KEY": SECRET}
    env.pop("QMS_REDIS_URL", None)
    return subprocess.run([sys.executable, "-m", "queue_server", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=scaled(60))


def issue(server: LiveServer, kiosk: str) -> str:
    answer = httpx.post(f"{server.base_url}/api/v1/centers/{CENTER}/tickets",
                        json={"service": "land"}, headers={"Authorization": f"Bearer {kiosk}"},
                        timeout=10)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["ticket"]["number"])


def test_a_backup_taken_while_serving_restores_that_moment(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = LiveServer("", data).start()          # the embedded Redis of QMS_DATA_DIR
    try:
        from queue_server.redis_child import running_server_url

        url = running_server_url(data / "redis")
        assert url is not None
        kiosk = Bootstrap(url).device("kiosk", CENTER)
        before = [issue(server, kiosk) for _ in range(3)]
        made = command(data, "backup", str(tmp_path / "snapshot.rdb"))
        assert made.returncode == 0, made.stderr
        after = issue(server, kiosk)
        refused = command(data, "restore", str(tmp_path / "snapshot.rdb"))
        assert refused.returncode == 2 and "stop it before a restore" in refused.stderr
    finally:
        server.stop()
    restored = command(data, "restore", str(tmp_path / "snapshot.rdb"))
    assert restored.returncode == 0, restored.stderr
    assert list((data / "redis").glob("appendonlydir.before-restore-*"))
    server = LiveServer("", data).start()
    try:
        # the snapshot's moment: the first three tickets (and the kiosk), not the fourth
        assert issue(server, kiosk) == after == f"C{len(before) + 1:03d}"
    finally:
        server.stop()
