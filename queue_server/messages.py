"""The message catalogue: every sentence a person is shown, Vietnamese first, English second.

The catalogue is a gettext PO file, ``queue_server/locale/vi/LC_MESSAGES/qms.po``, read with
Babel (``babel.messages.pofile.read_po``; no compile step, no ``.mo`` to keep in step). Each
entry is keyed by its ``msgctxt``, a stable snake_case *reason*; the ``msgid`` is the English
sentence and the ``msgstr`` the Vietnamese one; both may name the refusal's fields in braces
(``#, python-brace-format``), and both must name the same ones::

    #, python-brace-format
    msgctxt "counter_busy"
    msgid "Counter {counter} is still serving ticket {ticket}."
    msgstr "Quầy {counter} đang phục vụ số {ticket}."

Titles of problem kinds are entries too, with the context ``title.<code>`` (``title.
unknown_center``). Who reads it: problem answers (``queue_server/api/problems.py``), the
pages (``GET /api/v1/messages``, the whole catalogue as JSON), the counter CLI, and the test
that fails on a reason without Vietnamese (``tests/test_messages.py``).

Citizens are addressed as "Ông/Bà" (docs/displays.md, "Form of address").
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

CATALOGUE = Path(__file__).resolve().parent / "locale" / "vi" / "LC_MESSAGES" / "qms.po"
REASON = re.compile(r"^[a-z][a-z0-9_]*$")
LANGUAGES = ("vi", "en")


@dataclass(frozen=True)
class Message:
    reason: str
    en: str
    vi: str

    def text(self, language: str) -> str:
        return self.en if language == "en" else self.vi


def placeholders(text: str) -> set[str]:
    """The field names a sentence fills in (``{counter}`` → ``counter``)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Message]:
    """Every entry, by reason; read once per process."""
    with CATALOGUE.open("rb") as source:
        po = read_po(source, locale="vi", domain="qms")
    entries: dict[str, Message] = {}
    for item in po:
        if not item.id or not item.context:
            continue  # the header
        entries[item.context] = Message(item.context, str(item.id), str(item.string))
    return entries


def has(reason: str) -> bool:
    return reason in catalogue()


class _Fields(dict[str, str]):
    """Fields for ``format_map``: a missing one stays visible as ``{name}``, never a KeyError."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


# Fields whose values are words of the system (a status, a counter's state, an action): shown
# through the catalogue's "value.<word>" entries, so "called" reads "đã gọi" in Vietnamese.
# The engine sends lists of them as comma text ("booked,waiting").
WORD_FIELDS = frozenset({"status", "state", "action", "allowed"})


def _word(value: str, language: str) -> str:
    entry = catalogue().get("value." + value)
    return entry.vi if entry and language == "vi" else value


def _shown(value: Any, language: str = "vi", words: bool = False) -> str:
    if isinstance(value, list | tuple | set):
        return ", ".join(_shown(item, language, words) for item in value)
    if isinstance(value, bool):
        return "có" if value else "không"
    if words and isinstance(value, str):
        return ", ".join(_word(part, language) for part in value.split(","))
    return str(value)


def render(reason: str, fields: Mapping[str, Any] | None = None, language: str = "vi") -> str:
    """The sentence of ``reason`` in ``language`` with ``fields`` filled in. An unknown reason
    gives the generic sentence of its kind's title, so nobody is ever shown a bare key."""
    message = catalogue().get(reason) or catalogue()["qms_error"]
    values = _Fields({name: _shown(value, language, name in WORD_FIELDS)
                      for name, value in (fields or {}).items()})
    try:
        return string.Formatter().vformat(message.text(language), (), values)
    except (ValueError, IndexError):
        return message.text(language)


def title(code: str, language: str) -> str:
    """The title of a problem kind (``unknown-center``) in ``language``."""
    message = catalogue().get("title." + code.replace("-", "_")) or catalogue()["title.internal"]
    return message.text(language)


def as_json() -> dict[str, list[str]]:
    """The catalogue for pages: ``{reason: [vi, en]}``, the shape of their translators."""
    return {reason: [m.vi, m.en] for reason, m in sorted(catalogue().items())}


def describe(error: Any) -> tuple[str, str]:
    """(Vietnamese, English) sentences of a QmsError. A raise that named no reason of its own
    gets its kind's sentence in Vietnamese and its own English message, which is specific."""
    reason = getattr(error, "reason", "qms_error")
    fields = getattr(error, "fields", {}) or {}
    vi = render(reason, fields, "vi")
    specific = getattr(error, "reason_given", False) and reason in catalogue()
    en = render(reason, fields, "en") if specific or not str(error) else str(error)
    return vi, en
