"""The Lua code, assembled two ways from the same files.

- As a **Redis Function library** (``library_source()``, loaded once with ``FUNCTION LOAD``,
  called with ``FCALL qms_<name>``): the prelude's functions are defined once for the life of
  the server, so a call pays only for its own work. This is the default.
- As **separate scripts** (``all_scripts()``, called with ``EVALSHA``): used on a Redis
  Cluster, where redis-py can route EVALSHA by its keys but would ask the server for the keys
  of every FCALL (a ``COMMAND GETKEYS`` round trip per call).

Either way a call binds ``KEYS``/``ARGV`` and runs ``setup()`` (the center's key prefix from
KEYS[1], the center's ``meta`` key), then the script's body; the header carries the key
functions of ``queue_server.keys``, the histogram bounds of ``queue_server.metric_layout`` and the
record layouts of ``queue_server.records``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from queue_server.keys import lua_key_functions
from queue_server.metric_layout import lua_bucket_tables
from queue_server.records import lua_constants

LUA_DIR = Path(__file__).parent / "lua"
LIBRARY = "qms"
# Scripts that are not about one center (and the benchmark ceiling) carry no prelude.
BARE_SCRIPTS = frozenset({"logins", "noop", "rate_limit", "record_put", "record_set",
                          "seq_floor"})


@dataclass(frozen=True)
class Script:
    name: str
    source: str
    sha: str

    @property
    def function(self) -> str:
        return f"{LIBRARY}_{self.name}"


def _read(name: str) -> str:
    return (LUA_DIR / f"{name}.lua").read_text(encoding="utf-8")


def _names() -> list[str]:
    return sorted(p.stem for p in LUA_DIR.glob("*.lua") if p.stem != "prelude")


def _header() -> str:
    return ("local P = ''\n" + lua_key_functions() + lua_bucket_tables() + lua_constants()
            + _read("prelude") + "\n")


def _assemble(name: str) -> str:
    if name in BARE_SCRIPTS:
        return _read(name)
    return _header() + "setup()\n" + _read(name)


@cache
def all_scripts() -> dict[str, Script]:
    scripts = {}
    for name in _names():
        source = _assemble(name)
        scripts[name] = Script(name, source, hashlib.sha1(source.encode()).hexdigest())
    return scripts


@cache
def library_source() -> str:
    """Every script as one function library; KEYS and ARGV are the library's own locals,
    bound by each function's wrapper before its body runs."""
    parts = [f"#!lua name={LIBRARY}\n", "local KEYS, ARGV = {}, {}\n", _header()]
    registrations = []
    for name in _names():
        parts.append(f"local function body_{name}()\n{_read(name)}\nend\n")
        prepare = "" if name in BARE_SCRIPTS else " setup()"
        registrations.append(
            f"redis.register_function('{LIBRARY}_{name}', function(keys, args) "
            f"KEYS, ARGV = keys, args{prepare} return body_{name}() end)\n")
    return "".join(parts + registrations)
