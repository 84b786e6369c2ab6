"""One frozen settings object, read from ``QMS_*`` environment variables.

Every setting has a default that runs the system on one machine: no ``QMS_REDIS_URL`` means an
embedded Redis-compatible server under ``QMS_DATA_DIR``. A bad value fails at start-up with a
sentence that names the variable and what was expected.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from queue_server.errors import ConfigError
from queue_server.province import DEFAULT_PROVINCE_FILE

PREFIX = "QMS_"


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = None           # None: start the embedded server
    data_dir: Path = Path("var")
    province_file: Path = DEFAULT_PROVINCE_FILE
    host: str = "127.0.0.1"
    port: int = 8000
    ws_port: int = 8001                    # the WebSocket server (0: any free port)
    public_url: str = ""                   # how citizens reach the server (QR codes); "" = local
    public_ws_url: str = ""                # how browsers reach the channels; "" = same host,
                                           # QMS_WS_PORT
    secret_key: str = field(default="", repr=False)  # signs staff tokens; "" = from data_dir
    staff_token_hours: int = 12
    booking_limit_per_ip_hour: int = 20
    booking_limit_per_citizen_day: int = 3
    ws_buffer_bytes: int = 256 * 1024      # a socket's unsent bytes before it is resynced
    ws_heartbeat_s: float = 15.0
    ws_ping_s: float = 20.0                # protocol pings that find dead peers (0: none)
    script_batching: bool = True
    enforce_hours: bool = True             # refuse walk-in tickets outside opening hours
    gc_full_every_s: float = 3600.0        # a planned full garbage collection (0: Python's own)
    database_url: str | None = None        # the archive's PostgreSQL; None: the embedded one
                                           # under data_dir/postgres
    archive: bool = True                   # follow the streams into PostgreSQL (docs/archive.md)
    archive_batch: int = 500               # events per center per transaction
    archive_poll_s: float = 1.0            # pause after a round that found nothing more
    archive_retry_max_s: float = 10.0      # longest pause between retries in an outage
    archive_personal_days: int = 180       # citizen id / ticket secret hashes kept this long
    archive_record_years: int = 0          # tickets and events kept this long (0: for good)
    audio_dir: Path = Path("var/audio")
    log_level: str = "info"
    # Reliability and security (docs/reliability.md, docs/operations.md).
    redis_appendfsync: str = "always"      # the embedded Redis: always, everysec or no
    redis_wait_replicas: int = 0           # WAIT for this many replicas before answering
    redis_wait_ms: int = 100               # … at most this long
    metrics_token: str = field(default="", repr=False)  # scrape credential; "" = derived
    login_failures_per_account: int = 10   # failed logins per window before 429
    login_failures_per_address: int = 50
    login_window_s: int = 900

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        defaults = cls()
        for name, current in defaults.__dict__.items():
            key = PREFIX + name.upper()
            if key not in env:
                continue
            values[name] = _parse(key, env[key], current)
        settings = replace(defaults, **values)  # type: ignore[arg-type]
        if "QMS_AUDIO_DIR" not in env:
            settings = replace(settings, audio_dir=settings.data_dir / "audio")
        _check_choices(settings)
        return settings

    def with_secret(self) -> Settings:
        """The settings with a signing key: the given one, else one kept in the data folder so
        tokens survive a restart and every replica sharing the folder agrees."""
        if self.secret_key:
            return self
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32), encoding="ascii")
            path.chmod(0o600)
        return replace(self, secret_key=path.read_text(encoding="ascii").strip())


CHOICES = {"redis_appendfsync": ("always", "everysec", "no")}


def _check_choices(settings: Settings) -> None:
    for name, allowed in CHOICES.items():
        value = getattr(settings, name)
        if value not in allowed:
            key = PREFIX + name.upper()
            raise ConfigError(f"environment variable {key}: expected one of "
                              f"{', '.join(allowed)}, got {value!r}", key=key)


def _parse(key: str, raw: str, current: object) -> object:
    try:
        if isinstance(current, bool):
            if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError
            return raw.lower() in ("1", "true", "yes")
        if isinstance(current, int):
            return int(raw)
        if isinstance(current, float):
            return float(raw)
        if isinstance(current, Path):
            return Path(raw)
    except ValueError:
        expected = type(current).__name__.replace("bool", "true or false")
        raise ConfigError(f"environment variable {key}: expected {expected}, got {raw!r}",
                          key=key) from None
    return raw or None if current is None else raw
