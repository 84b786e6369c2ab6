"""The Lua code, assembled two ways from the same files.

- As a **Redis Function library** (``library_source()``, loaded once with ``FUNCTION LOAD``,
  called with ``FCALL qms_<name>``): the prelude's functions are defined once for the life of
  the server, so a call pays only for its own work. This is the default.
- As **separate scripts** (``all_scripts()``, called with ``EVALSHA``): used on a Redis
  Cluster, where redis-py can route EVALSHA by its keys but would ask the server for the keys
  of every FCALL (a ``COMMAND GETKEYS`` round trip per call).

Either way a call binds ``KEYS``/``ARGV`` and runs ``setup()`` (the center's key prefix from
KEYS[1], the center's ``meta`` key), then the script's body. In front of the scripts: the
constants generated from their one Python definition (the key functions of
``queue_server.keys``, the record layouts of ``queue_server.records``, the lifecycle of
``queue_server.rules.states``, the day totals of ``queue_server.projections``), then the
shared helpers of ``lua/includes/``, by topic, in dependency order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from queue_server import projections, records
from queue_server.keys import lua_key_functions
from queue_server.rules import states

LUA_DIR = Path(__file__).parent / "lua"
LIBRARY = "qms"
# Scripts that are not about one center (and the benchmark ceiling) carry no prelude.
BARE_SCRIPTS = frozenset({"logins", "noop", "rate_limit", "record_put", "record_set",
                          "seq_floor"})
INCLUDES = ("base", "records", "checks", "queues", "events", "idempotency", "day",
            "transitions")


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
    return sorted(p.stem for p in LUA_DIR.glob("*.lua"))


def lua_header() -> str:
    """Everything a center script finds defined before its body."""
    generated = ("local P = ''\n" + lua_key_functions() + records.lua_constants()
                 + states.lua_constants() + projections.lua_constants())
    return generated + "".join(_read(f"includes/{name}") + "\n" for name in INCLUDES)


def _assemble(name: str) -> str:
    if name in BARE_SCRIPTS:
        return _read(name)
    return lua_header() + "setup()\n" + _read(name)


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
    parts = [f"#!lua name={LIBRARY}\n", "local KEYS, ARGV = {}, {}\n", lua_header()]
    registrations = []
    for name in _names():
        parts.append(f"local function body_{name}()\n{_read(name)}\nend\n")
        prepare = "" if name in BARE_SCRIPTS else " setup()"
        registrations.append(
            f"redis.register_function('{LIBRARY}_{name}', function(keys, args) "
            f"KEYS, ARGV = keys, args{prepare} return body_{name}() end)\n")
    return "".join(parts + registrations)
