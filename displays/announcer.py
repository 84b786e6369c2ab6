"""The server side of spoken calls: which words, which voice, which cached WAV.

One ``Announcer`` per server process (kept in ``services.extras["announcer"]``): it owns the
``AnnouncementCache`` under ``settings.audio_dir`` and the ``SpeechConfig`` read from
``QMS_SPEECH_*``. Rendering happens in the speech module's child processes, never on the
event loop. A render that fails is logged once per audio key (a lobby retrying the same call
every few seconds must not flood the log) and reported as ``SpeechRenderError`` (503).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from displays.announcements import LANGUAGES, Language, announcement_text
from displays.speech import (
    AnnouncementCache,
    SpeechRenderer,
    SpeechRenderError,
    announcement_for_call,
    voice_id,
)
from displays.speech_config import SpeechConfig
from queue_server.errors import InvalidInput, UnknownCounter
from queue_server.province import Center

log = logging.getLogger("qms.speech")
EXTRAS_KEY = "announcer"
MAX_DIGITS = 6  # numbers are per service and day: A001 … far below a million


@dataclass(frozen=True)
class Call:
    """One call to be spoken: validated, with the voice chosen."""

    center: Center
    number: str
    counter: str
    recall: bool
    language: Language
    voice: str

    def query(self) -> str:
        """The parameters that rebuild this call (a replica without the file re-renders)."""
        return urlencode({"center": self.center.id, "number": self.number,
                          "counter": self.counter, "recall": int(self.recall),
                          "lang": self.language, "voice": self.voice})


class Announcer:
    def __init__(self, folder: Path, config: SpeechConfig) -> None:
        self.config = config
        self.cache = AnnouncementCache(folder, SpeechRenderer(max_workers=config.workers))
        self._failed: set[str] = set()

    def call(self, center: Center, number: str, counter: str, *, recall: bool = False,
             language: str = "vi", voice: str | None = None) -> Call:
        """Check a request's fields; ``voice`` None is the center's (or English for ``en``)."""
        if language not in LANGUAGES:
            raise InvalidInput(f"lang must be one of {', '.join(LANGUAGES)}, got {language!r}",
                               reason="language_unknown", field="lang",
                               languages=list(LANGUAGES))
        if center.counter(counter) is None:
            known = ", ".join(c.id for c in center.counters)
            raise UnknownCounter(f"center {center.id} has no counter {counter!r} (it has "
                                 f"{known})", reason="no_such_counter", counter=counter,
                                 center=center.id)
        number = number.strip().upper()
        if sum(ch.isdigit() for ch in number) > MAX_DIGITS:
            raise InvalidInput(f"a ticket number has at most {MAX_DIGITS} digits, got {number!r}",
                               reason="ticket_number_malformed", field="number")
        lang: Language = "vi" if language == "vi" else "en"
        chosen = voice or (center.voice if lang == "vi" else "english")
        voice_id(chosen)  # UnknownVoiceError (422) for a name that is not a voice
        announcement_text(number, counter, language=lang)  # InvalidInput for a bad number
        return Call(center, number, counter, recall, lang, chosen)

    def text_and_key(self, call: Call) -> tuple[str, str]:
        settings = self.config.settings_for(call.language, call.voice)
        text = settings.text_for(call.number, call.counter, recall=call.recall)
        key = self.cache.key_for(text, settings.voice_name, settings.rate,
                                 repeat=settings.repeat, pause_ms=settings.pause_ms)
        return text, key

    async def render(self, call: Call) -> tuple[str, Path]:
        """The spoken sentence and its WAV file, rendered now unless cached."""
        settings = self.config.settings_for(call.language, call.voice)
        try:
            return await announcement_for_call(self.cache, call.number, call.counter, settings,
                                               recall=call.recall)
        except SpeechRenderError as error:
            _, key = self.text_and_key(call)
            if key not in self._failed:
                self._failed.add(key)
                log.error("cannot render the call %s to counter %s at %s (%s, %s): %s",
                          call.number, call.counter, call.center.id, call.language, call.voice,
                          error)
            raise

    def display_text(self, call: Call) -> str:
        """The call as the screen writes it: the template with the number as printed."""
        template = self.config.templates[call.language]
        return (template.recall if call.recall else template.call).format(
            number=call.number, counter=call.counter)

    def describe(self, call: Call, text: str, key: str) -> dict[str, Any]:
        return {"text": text, "display_text": self.display_text(call),
                "audio_url": f"/audio/{key}.wav?{call.query()}", "key": key,
                "voice": call.voice, "lang": call.language, "recall": call.recall}


def announcer_of(extras: dict[str, Any], audio_dir: Path) -> Announcer:
    """The process's Announcer, made at start-up by the router's lifespan or at first use."""
    found = extras.get(EXTRAS_KEY)
    if isinstance(found, Announcer):
        return found
    made = Announcer(audio_dir, SpeechConfig.from_env())
    extras[EXTRAS_KEY] = made
    return made
