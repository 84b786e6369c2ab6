"""Lua scripts: assembled once (generated header + prelude + body), called by SHA.

Each script's header binds ``P`` (the center's key prefix, taken from KEYS[1], the center's
``meta`` key), the key functions of ``queue_server.keys`` and the histogram bounds of
``queue_server.metric_layout``; then comes ``lua/prelude.lua`` and the script itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from queue_server.keys import CENTER_KEYS, lua_key_functions
from queue_server.metric_layout import lua_bucket_tables

LUA_DIR = Path(__file__).parent / "lua"
# Scripts that are not about one center (and the benchmark ceiling) carry no prelude.
BARE_SCRIPTS = frozenset({"noop", "rate_limit", "record_put"})
META_SUFFIX = CENTER_KEYS["meta"][0]


@dataclass(frozen=True)
class Script:
    name: str
    source: str
    sha: str


def _header() -> str:
    return (
        f"local P = string.sub(KEYS[1], 1, -{len(META_SUFFIX) + 1})\n"
        + lua_key_functions()
        + lua_bucket_tables()
    )


def _assemble(name: str) -> str:
    body = (LUA_DIR / f"{name}.lua").read_text(encoding="utf-8")
    if name in BARE_SCRIPTS:
        return body
    prelude = (LUA_DIR / "prelude.lua").read_text(encoding="utf-8")
    return _header() + prelude + "\n" + body


@cache
def all_scripts() -> dict[str, Script]:
    scripts = {}
    for path in sorted(LUA_DIR.glob("*.lua")):
        if path.stem == "prelude":
            continue
        source = _assemble(path.stem)
        scripts[path.stem] = Script(path.stem, source, hashlib.sha1(source.encode()).hexdigest())
    return scripts
