"""Spoken calls for lobby displays, rendered on the server to WAV files cached by content.

Public API (voices are ``north``, ``central``, ``south`` and ``english``)::

    voice_id(voice) -> str                        espeak-ng id, else UnknownVoiceError
    SpeechSettings(language, voice, rate, reading, repeat, pause_ms, templates, ...)  frozen
    render_announcement(text, voice, rate, *, repeat=1, pause_ms=700) -> bytes   blocking
    await SpeechRenderer(max_workers=1).render(...) -> bytes   the same, in a child process
    AnnouncementCache(folder, renderer=None)
        .key_for(text, voice, rate, *, repeat=1, pause_ms=700) -> str      sha256 hex
        await .get_or_render(text, voice, rate, *, repeat=1, pause_ms=700) -> Path  <key>.wav
        .path_for_key(key) -> Path | None          for GET /audio/<key>.wav
    await announcement_for_call(cache, number, counter, settings=None, *, recall=False)
        -> (text, path)                            serve with AUDIO_CACHE_CONTROL (immutable)

espeak-ng voice ids here (pyttsx3 2.99 lists lower-cased identifiers): north ``aav/vi``,
central ``aav/vi-vn-x-central``, south ``aav/vi-vn-x-south``, english ``gmw/en``.

Rendering: pyttsx3's espeak driver drives its process's one libespeak-ng synthesizer, blocks,
and is not thread-safe, so each render runs in a fresh child, ``python -m displays.speech``
(``SpeechRenderer``; the event loop only awaits its pipes). Two renders never share an engine, a
hung synthesizer is killed, and output is deterministic: libespeak-ng carries state from one
utterance to the next (a second render in one process differs by a few samples), while a fresh
process gives exactly the samples of ``espeak-ng -w``, so replicas agree on the bytes of a key.
A render takes about 0.1-0.2 s, most of it interpreter start-up (so asyncio, which the worker
does not need, is imported inside the async code). Two pyttsx3 2.99 quirks are handled in
``_save_with_pyttsx3``: ``runAndWait()`` returning before ``save_to_file`` has written, and a
rate change being discarded by its own ``stop()``. Errors: ``UnknownVoiceError(InvalidInput)``,
``SpeechRenderError(Unavailable)`` (both ``queue_server.errors.QmsError``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import re
import sys
import tempfile
import threading
import unicodedata
import wave
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import PIPE
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from displays.announcements import (
    DEFAULT_TEMPLATES,
    Language,
    Reading,
    Templates,
    ThousandWord,
    ZeroTensWord,
    announcement_text,
)
from queue_server.errors import InvalidInput, Unavailable

if TYPE_CHECKING:  # at run time asyncio is imported where it is used; the worker never needs it
    import asyncio

VOICES: Mapping[str, str] = MappingProxyType({
    "north": "aav/vi",
    "central": "aav/vi-vn-x-central",
    "south": "aav/vi-vn-x-south",
    "english": "gmw/en",
})  # fmt: skip
DEFAULT_VOICE: Mapping[str, str] = MappingProxyType({"vi": "north", "en": "english"})
DEFAULT_RATE = 150  # words per minute; espeak-ng's own default (175) is fast for a lobby
MIN_RATE, MAX_RATE = 80, 450  # what libespeak-ng accepts
MAX_REPEAT, DEFAULT_PAUSE_MS, MAX_PAUSE_MS = 3, 700, 3000
MAX_TEXT_CHARS, RENDER_TIMEOUT_S = 500, 30.0
AUDIO_CACHE_CONTROL = "public, max-age=31536000, immutable"
CACHE_FORMAT = 1  # bump when the rendering changes, so old files are never served for new keys
_KEY = re.compile(r"^[0-9a-f]{64}$")


class UnknownVoiceError(InvalidInput):
    code = "unknown-voice"
    reason = "unknown_voice"

    def __init__(self, voice: str) -> None:
        valid = ", ".join(sorted(VOICES))
        super().__init__(f"unknown voice {voice!r}; valid voices are: {valid}", field="voice",
                         voice=voice, voices=sorted(VOICES))
        self.voice = voice


class SpeechRenderError(Unavailable):
    code = "speech-render-failed"
    reason = "speech_render_failed"


def voice_id(voice: str) -> str:
    """The espeak-ng identifier for a voice name (``north`` → ``aav/vi``)."""
    try:
        return VOICES[voice.strip().lower()]
    except (KeyError, AttributeError):
        raise UnknownVoiceError(str(voice)) from None


def _normalized_text(text: str) -> str:
    clean = unicodedata.normalize("NFC", text).strip()  # one key for NFC and NFD input
    if not 0 < len(clean) <= MAX_TEXT_CHARS:
        raise InvalidInput(f"announcement text must have 1 to {MAX_TEXT_CHARS} characters")
    return clean


def _check_numbers(rate: int, repeat: int, pause_ms: int) -> None:
    if not MIN_RATE <= rate <= MAX_RATE:
        raise InvalidInput(f"rate must be {MIN_RATE}..{MAX_RATE} words a minute, got {rate}")
    if not 1 <= repeat <= MAX_REPEAT:
        raise InvalidInput(f"repeat must be 1..{MAX_REPEAT}, got {repeat}", repeat=repeat)
    if not 0 <= pause_ms <= MAX_PAUSE_MS:
        raise InvalidInput(f"pause_ms must be 0..{MAX_PAUSE_MS}, got {pause_ms}")


@dataclass(frozen=True)
class SpeechSettings:
    """How a center speaks its calls; ``voice=None`` is the language's default voice. Own words:
    ``templates={**DEFAULT_TEMPLATES, "vi": Templates(call=..., recall=...)}``."""

    language: Language = "vi"
    voice: str | None = None
    rate: int = DEFAULT_RATE
    reading: Reading = "digits"
    repeat: int = 1
    pause_ms: int = DEFAULT_PAUSE_MS
    templates: Mapping[str, Templates] = field(default_factory=lambda: DEFAULT_TEMPLATES)
    zero_tens: ZeroTensWord = "linh"
    thousand: ThousandWord = "nghìn"

    def __post_init__(self) -> None:
        self.text_for("A001", "1")  # refuses a bad language, reading, style word or template
        voice_id(self.voice_name)
        _check_numbers(self.rate, self.repeat, self.pause_ms)

    @property
    def voice_name(self) -> str:
        return self.voice if self.voice is not None else DEFAULT_VOICE[self.language]

    def text_for(self, number: str, counter: str, *, recall: bool = False) -> str:
        """The sentence that calls ``number`` to ``counter`` with these settings."""
        return announcement_text(
            number, counter, language=self.language, reading=self.reading, recall=recall,
            templates=self.templates, zero_tens=self.zero_tens, thousand=self.thousand,
        )  # fmt: skip


def repeat_wav(wav: bytes, repeat: int, pause_ms: int) -> bytes:
    """The audio of ``wav`` said ``repeat`` times with ``pause_ms`` of silence in between."""
    with wave.open(io.BytesIO(wav), "rb") as reader:
        params = reader.getparams()
        frames = reader.readframes(params.nframes)
    if params.nframes == 0:
        raise SpeechRenderError("the synthesizer produced no audio")
    # Zero is silence in signed 16-bit PCM, what libespeak-ng produces.
    pause_frames = round(params.framerate * pause_ms / 1000)
    silence = b"\x00" * params.sampwidth * params.nchannels * pause_frames
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setparams(params)  # the frame count in the header is corrected on close
        writer.writeframes(silence.join([frames] * repeat))
    return out.getvalue()


# libespeak-ng is one synthesizer per process: one engine, one render at a time.
_ENGINE_LOCK = threading.Lock()
_engine_holder: list[Any] = []  # keeps pyttsx3's per-process engine alive between renders


def render_announcement(
    text: str, voice: str, rate: int, *, repeat: int = 1, pause_ms: int = DEFAULT_PAUSE_MS
) -> bytes:
    """WAV bytes of ``text`` from pyttsx3 + espeak-ng in THIS process, blocking: meant for the
    worker process that ``SpeechRenderer`` starts, not for the event loop."""
    clean = _normalized_text(text)
    espeak_id = voice_id(voice)
    _check_numbers(rate, repeat, pause_ms)
    with _ENGINE_LOCK, tempfile.TemporaryDirectory(prefix="qms-speech-") as folder:
        once = _save_with_pyttsx3(clean, espeak_id, rate, Path(folder) / "speech.wav")
    return repeat_wav(once, repeat, pause_ms)


def _save_with_pyttsx3(text: str, espeak_id: str, rate: int, target: Path) -> bytes:
    # pyttsx3 2.99 + libespeak-ng in AUDIO_OUTPUT_RETRIEVAL mode: a rate change is queued for
    # libespeak-ng's own thread, and runAndWait() first runs stop(), whose espeak_Cancel()
    # discards whatever is still queued - about one render in a hundred came out at the
    # driver's default 200 wpm. So properties are applied outside the run loop and we wait
    # (espeak_Synchronize) until libespeak-ng has taken them before running it.
    import pyttsx3  # loads libespeak-ng; only the worker process needs it
    from pyttsx3.drivers import _espeak

    if not _engine_holder:
        engine = pyttsx3.init("espeak")
        _espeak.Synchronize()  # the driver's start-up settings are applied ...
        engine.runAndWait()  # ... and an empty run leaves pyttsx3 idle: properties apply at once
        _engine_holder.append(engine)
    engine = _engine_holder[0]
    finished = threading.Event()
    failures: list[str] = []

    def on_done(completed: bool = True, exception: object = None, **_: object) -> None:
        if exception is not None or not completed:
            failures.append(f"pyttsx3: {exception or 'the utterance was cancelled'}")
        finished.set()

    tokens = [engine.connect(topic, on_done) for topic in ("finished-utterance", "error")]
    try:
        # The driver prints "Audio saved to …"; a worker's stdout is nobody's business.
        with contextlib.redirect_stdout(io.StringIO()):
            engine.setProperty("voice", espeak_id)
            engine.setProperty("rate", rate)
            _espeak.Synchronize()
            applied = (engine.getProperty("voice"), engine.getProperty("rate"))
            engine.save_to_file(text, str(target))
            engine.runAndWait()
            if not finished.wait(RENDER_TIMEOUT_S):
                failures.append(f"no audio within {RENDER_TIMEOUT_S:.0f} s")
    finally:
        for token in tokens:
            engine.disconnect(token)
    if applied != (espeak_id, rate):
        failures.append(f"asked for voice {espeak_id} at {rate} wpm, libespeak-ng has {applied}")
    if failures or not target.is_file():
        raise SpeechRenderError("; ".join(failures) or "pyttsx3 wrote no file")
    return target.read_bytes()


class Renderer(Protocol):
    async def render(
        self, text: str, voice: str, rate: int, *, repeat: int = 1, pause_ms: int = DEFAULT_PAUSE_MS
    ) -> bytes: ...


class SpeechRenderer:
    """Renders off the event loop: each render is a fresh ``python -m displays.speech`` child
    (at most ``max_workers`` at once), killed if it outlives ``timeout`` or its caller."""

    def __init__(self, *, max_workers: int = 1, timeout: float = RENDER_TIMEOUT_S) -> None:
        import asyncio

        self._slots = asyncio.Semaphore(max_workers)
        self._timeout = timeout

    async def render(
        self, text: str, voice: str, rate: int, *, repeat: int = 1, pause_ms: int = DEFAULT_PAUSE_MS
    ) -> bytes:
        import asyncio

        voice_id(voice)  # refuse here rather than in a child process
        _check_numbers(rate, repeat, pause_ms)
        request = dict(text=_normalized_text(text), voice=voice, rate=rate, repeat=repeat)
        request["pause_ms"] = pause_ms
        async with self._slots:
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "displays.speech", env=_worker_env(),
                stdin=PIPE, stdout=PIPE, stderr=PIPE,
            )  # fmt: skip
            talk = child.communicate(json.dumps(request).encode())
            try:
                wav, err = await asyncio.wait_for(talk, self._timeout)
            except BaseException as exc:  # timed out or cancelled: no orphan synthesizer
                with contextlib.suppress(ProcessLookupError):
                    child.kill()
                await child.wait()
                if isinstance(exc, TimeoutError):
                    raise SpeechRenderError(f"no audio within {self._timeout} s") from None
                raise
        if child.returncode != 0:
            detail = err.decode("utf-8", "replace").strip()[-500:]
            raise SpeechRenderError(f"the speech worker failed ({child.returncode}): {detail}")
        return wav


def _worker_env() -> dict[str, str]:  # ours, with the folder holding ``displays`` importable
    paths = [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def _worker_main() -> int:
    """``python -m displays.speech``: a JSON request on stdin, the WAV bytes on stdout."""
    result = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray output (pyttsx3 prints) goes to stderr, never into the audio
    try:
        wav = render_announcement(**json.loads(sys.stdin.buffer.read()))
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    with result:
        result.write(wav)
    return 0


class AnnouncementCache:
    """``<sha256>.wav`` files under ``folder``. Concurrent requests for a key share one render;
    files appear atomically (temp + rename); ``renders`` counts the renders this one started."""

    def __init__(self, folder: Path | str, renderer: Renderer | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._renderer: Renderer = renderer if renderer is not None else SpeechRenderer()
        self._inflight: dict[str, asyncio.Task[Path]] = {}
        self.renders = 0

    @staticmethod
    def key_for(
        text: str, voice: str, rate: int, *, repeat: int = 1, pause_ms: int = DEFAULT_PAUSE_MS
    ) -> str:
        """The content hash that names the audio of these words in this voice at this rate."""
        _check_numbers(rate, repeat, pause_ms)
        spec = {
            "format": CACHE_FORMAT, "voice": voice_id(voice), "rate": rate, "repeat": repeat,
            "pause_ms": pause_ms if repeat > 1 else 0, "text": _normalized_text(text),
        }  # fmt: skip
        canonical = json.dumps(spec, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def path_for_key(self, key: str) -> Path | None:
        """The cached file for a key taken from a URL, or None (also for anything not a key)."""
        if not _KEY.match(key):
            return None
        path = self.folder / f"{key}.wav"
        return path if path.is_file() else None

    async def get_or_render(
        self, text: str, voice: str, rate: int, *, repeat: int = 1, pause_ms: int = DEFAULT_PAUSE_MS
    ) -> Path:
        import asyncio

        key = self.key_for(text, voice, rate, repeat=repeat, pause_ms=pause_ms)
        path = self.folder / f"{key}.wav"
        if path.is_file():
            return path
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(
                self._render_to(path, text, voice, rate, repeat=repeat, pause_ms=pause_ms)
            )
            self._inflight[key] = task
            task.add_done_callback(functools.partial(self._forget, key))
        # shield: one impatient caller cancelling must not cancel the render the others await.
        return await asyncio.shield(task)

    def _forget(self, key: str, task: asyncio.Task[Path]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here, so a render nobody awaits any more logs nothing

    async def _render_to(
        self, path: Path, text: str, voice: str, rate: int, *, repeat: int, pause_ms: int
    ) -> Path:
        import asyncio

        self.renders += 1
        wav = await self._renderer.render(text, voice, rate, repeat=repeat, pause_ms=pause_ms)
        await asyncio.to_thread(_write_atomically, path, wav)
        return path


def _write_atomically(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


async def announcement_for_call(
    cache: AnnouncementCache,
    number: str,
    counter: str,
    settings: SpeechSettings | None = None,
    *,
    recall: bool = False,
) -> tuple[str, Path]:
    """The sentence calling ``number`` to ``counter`` and the WAV that speaks it.

    The HTTP layer serves the file as ``/audio/{path.name}`` with ``AUDIO_CACHE_CONTROL``.
    """
    chosen = settings if settings is not None else SpeechSettings()
    text = chosen.text_for(number, counter, recall=recall)
    path = await cache.get_or_render(
        text, chosen.voice_name, chosen.rate, repeat=chosen.repeat, pause_ms=chosen.pause_ms
    )
    return text, path


if __name__ == "__main__":
    raise SystemExit(_worker_main())
