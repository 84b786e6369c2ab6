"""How the server speaks calls: reading mode, repeats, rate and sentences, from ``QMS_SPEECH_*``.

The ``[speech]`` settings of docs/displays.md, one environment variable each, every one
optional (the default is in brackets):

=============================  =========================================================
``QMS_SPEECH_READING``         ``digits`` (A, không, hai, ba) or ``number`` (A, hai mươi
                               ba) [digits]
``QMS_SPEECH_REPEAT``          times each call is said in one audio file, 1-3 [1]
``QMS_SPEECH_PAUSE_MS``        silence between repeats, 0-3000 [700]
``QMS_SPEECH_RATE``            words a minute, 80-450 [150]
``QMS_SPEECH_CALL_VI``         the Vietnamese sentence, fields ``{number}`` ``{counter}``
``QMS_SPEECH_RECALL_VI``       … for a recall
``QMS_SPEECH_CALL_EN``         the English sentence
``QMS_SPEECH_RECALL_EN``       … for a recall
``QMS_SPEECH_WORKERS``         speech renders at once per server process, 1-8 [2]
=============================  =========================================================

The voice is not here: it is the center's (``voice`` in the province file, north by default),
and English calls use the English voice. A bad value stops the server at start-up with a
sentence naming the variable (``ConfigError``), never at the first call of the day.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import get_args

from displays.announcements import DEFAULT_TEMPLATES, Language, Reading, Templates
from displays.speech import DEFAULT_PAUSE_MS, DEFAULT_RATE, SpeechSettings, voice_id
from queue_server.errors import ConfigError, InvalidInput

PREFIX = "QMS_SPEECH_"
MAX_WORKERS = 8


@dataclass(frozen=True)
class SpeechConfig:
    """The province-wide speech settings; ``settings_for`` adds a language and a voice."""

    reading: Reading = "digits"
    repeat: int = 1
    pause_ms: int = DEFAULT_PAUSE_MS
    rate: int = DEFAULT_RATE
    templates: Mapping[str, Templates] = field(default_factory=lambda: DEFAULT_TEMPLATES)
    workers: int = 2

    def settings_for(self, language: Language, voice: str) -> SpeechSettings:
        """SpeechSettings for one call; ``voice`` is a name (north, central, south, english)."""
        voice_id(voice)  # UnknownVoiceError before anything else
        return SpeechSettings(language=language, voice=voice, rate=self.rate,
                              reading=self.reading, repeat=self.repeat, pause_ms=self.pause_ms,
                              templates=self.templates)

    def templates_json(self) -> dict[str, dict[str, str]]:
        """The sentences as pages need them to write the call on screen."""
        return {lang: {"call": t.call, "recall": t.recall} for lang, t in self.templates.items()}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SpeechConfig:
        env = os.environ if environ is None else environ
        config = cls()
        reading = env.get(PREFIX + "READING")
        if reading is not None:
            if reading not in get_args(Reading):
                raise _bad("READING", "digits or number", reading)
            config = replace(config, reading=reading)  # type: ignore[arg-type]
        config = replace(
            config, repeat=_whole(env, "REPEAT", 1, 3, config.repeat),
            pause_ms=_whole(env, "PAUSE_MS", 0, 3000, config.pause_ms),
            rate=_whole(env, "RATE", 80, 450, config.rate),
            workers=_whole(env, "WORKERS", 1, MAX_WORKERS, config.workers))
        templates = dict(config.templates)
        for lang in ("vi", "en"):
            own = templates[lang]
            call = env.get(f"{PREFIX}CALL_{lang.upper()}", own.call)
            recall = env.get(f"{PREFIX}RECALL_{lang.upper()}", own.recall)
            try:
                templates[lang] = Templates(call=call, recall=recall)
            except InvalidInput as error:
                raise ConfigError(f"{PREFIX}CALL_{lang.upper()} / {PREFIX}RECALL_{lang.upper()}:"
                                  f" {error}", key=f"{PREFIX}CALL_{lang.upper()}") from None
        config = replace(config, templates=templates)
        config.settings_for("vi", "north")  # the whole combination is accepted by speech
        return config


def _whole(env: Mapping[str, str], name: str, low: int, high: int, default: int) -> int:
    raw = env.get(PREFIX + name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad(name, f"a whole number {low}-{high}", raw) from None
    if not low <= value <= high:
        raise _bad(name, f"a whole number {low}-{high}", raw)
    return value


def _bad(name: str, expected: str, got: str) -> ConfigError:
    key = PREFIX + name
    return ConfigError(f"environment variable {key}: expected {expected}, got {got!r}", key=key)
