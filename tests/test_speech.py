"""Spoken calls: number reading, templates, voices, real espeak-ng renders and the audio cache."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import itertools
import json
import subprocess
import sys
import time
import unicodedata
import wave
from pathlib import Path

import pytest

from displays.announcements import (
    DEFAULT_TEMPLATES,
    VI_LETTER_NAMES,
    Templates,
    announcement_text,
    letter_name,
    read_counter,
    read_number_en,
    read_number_vi,
    read_ticket_number,
)
from displays.speech import (
    AUDIO_CACHE_CONTROL,
    VOICES,
    AnnouncementCache,
    SpeechRenderer,
    SpeechRenderError,
    SpeechSettings,
    UnknownVoiceError,
    announcement_for_call,
    repeat_wav,
    voice_id,
)
from queue_server.errors import InvalidInput
from tests.servers import scaled

CALL_A023 = "Mời công dân có số thứ tự A, không, hai, ba đến quầy số năm"
CALL_A024 = "Mời công dân có số thứ tự A, không, hai, bốn đến quầy số năm"
RATE = 150

# ---------------------------------------------------------------- number reading (pure)

VI_NUMBERS = [
    (0, "không"),
    (1, "một"),
    (5, "năm"),
    (10, "mười"),
    (11, "mười một"),
    (15, "mười lăm"),
    (20, "hai mươi"),
    (21, "hai mươi mốt"),
    (24, "hai mươi bốn"),
    (25, "hai mươi lăm"),
    (55, "năm mươi lăm"),
    (99, "chín mươi chín"),
    (100, "một trăm"),
    (101, "một trăm linh một"),
    (105, "một trăm linh năm"),
    (110, "một trăm mười"),
    (111, "một trăm mười một"),
    (115, "một trăm mười lăm"),
    (121, "một trăm hai mươi mốt"),
    (1000, "một nghìn"),
    (1001, "một nghìn không trăm linh một"),
    (1005, "một nghìn không trăm linh năm"),
    (1010, "một nghìn không trăm mười"),
    (1015, "một nghìn không trăm mười lăm"),
    (1100, "một nghìn một trăm"),
    (2024, "hai nghìn không trăm hai mươi bốn"),
    (9999, "chín nghìn chín trăm chín mươi chín"),
    (10005, "mười nghìn không trăm linh năm"),
    (1_000_000, "một triệu"),
]

EN_NUMBERS = [
    (0, "zero"),
    (1, "one"),
    (5, "five"),
    (10, "ten"),
    (11, "eleven"),
    (15, "fifteen"),
    (21, "twenty one"),
    (25, "twenty five"),
    (101, "one hundred and one"),
    (105, "one hundred and five"),
    (110, "one hundred and ten"),
    (1000, "one thousand"),
    (1005, "one thousand and five"),
    (1100, "one thousand one hundred"),
    (2024, "two thousand and twenty four"),
    (9999, "nine thousand nine hundred and ninety nine"),
]


@pytest.mark.parametrize(("n", "words"), VI_NUMBERS)
def test_vietnamese_numbers(n: int, words: str) -> None:
    assert read_number_vi(n) == words


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (101, "một trăm lẻ một"),
        (105, "một trăm lẻ năm"),
        (1005, "một ngàn không trăm lẻ năm"),
        (25, "hai mươi lăm"),
    ],
)
def test_vietnamese_southern_style(n: int, words: str) -> None:
    assert read_number_vi(n, zero_tens="lẻ", thousand="ngàn") == words


@pytest.mark.parametrize(("n", "words"), EN_NUMBERS)
def test_english_numbers(n: int, words: str) -> None:
    assert read_number_en(n) == words


@pytest.mark.parametrize("bad", [-1, 10**12, True, 1.5, "7"])
def test_numbers_out_of_range_are_refused(bad: object) -> None:
    with pytest.raises(InvalidInput, match="whole number"):
        read_number_vi(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="whole number"):
        read_number_en(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("number", "language", "reading", "words"),
    [
        ("A023", "vi", "digits", "A, không, hai, ba"),
        ("A023", "en", "digits", "A, zero, two, three"),
        ("A023", "vi", "number", "A, hai mươi ba"),
        ("A023", "en", "number", "A, twenty three"),
        ("B000", "vi", "number", "bê, không"),
        ("C105", "vi", "number", "xê, một trăm linh năm"),
        ("D015", "vi", "number", "dê, mười lăm"),
        ("G021", "vi", "number", "gờ, hai mươi mốt"),
        ("đ011", "vi", "digits", "đê, không, một, một"),
        ("AB1005", "vi", "number", "A, bê, một nghìn không trăm linh năm"),
        ("AB1005", "en", "number", "A, B, one thousand and five"),
        ("123", "vi", "digits", "một, hai, ba"),
    ],
)
def test_ticket_numbers(number: str, language: str, reading: str, words: str) -> None:
    assert read_ticket_number(number, language, reading) == words  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "A", "A-23", "ABCD001", "A0B1", "Á023"])
def test_malformed_ticket_numbers_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput, match="ticket number"):
        read_ticket_number(bad)


@pytest.mark.parametrize(
    ("counter", "language", "words"),
    [
        ("5", "vi", "năm"),
        ("12", "vi", "mười hai"),
        ("21", "vi", "hai mươi mốt"),
        ("3A", "vi", "ba a"),
        ("B2", "vi", "bê hai"),
        ("Tiếp nhận 2", "vi", "Tiếp nhận hai"),
        ("5", "en", "five"),
        ("3A", "en", "three A"),
    ],
)
def test_counters(counter: str, language: str, words: str) -> None:
    assert read_counter(counter, language) == words  # type: ignore[arg-type]


def test_vietnamese_letter_names_are_distinct_and_common() -> None:
    names = list(VI_LETTER_NAMES.values())
    assert len(names) == len(set(names)), "two letters would sound alike"
    assert [letter_name(c, "vi") for c in "ABCDĐ"] == ["a", "bê", "xê", "dê", "đê"]
    assert letter_name("b", "en") == "B"
    with pytest.raises(InvalidInput, match="letter"):
        letter_name("7", "vi")


# ---------------------------------------------------------------- templates and settings


def test_default_templates() -> None:
    assert announcement_text("A023", "5") == CALL_A023
    assert announcement_text("A023", "3A", language="en", reading="number") == (
        "Ticket number A, twenty three, please go to counter three A"
    )
    assert announcement_text("A023", "5", recall=True) == (
        "Nhắc lại: mời công dân có số thứ tự A, không, hai, ba đến quầy số năm"
    )
    assert announcement_text("A023", "5", language="en", recall=True) == (
        "Reminder: ticket number A, zero, two, three, please go to counter five"
    )


def test_custom_templates_and_settings_text() -> None:
    custom = {
        **DEFAULT_TEMPLATES,
        "vi": Templates(call="Số {number}, quầy {counter}", recall="Lại {number}, quầy {counter}"),
    }
    settings = SpeechSettings(templates=custom, reading="number", zero_tens="lẻ")
    assert settings.text_for("A105", "2") == "Số A, một trăm lẻ năm, quầy hai"
    assert settings.text_for("A105", "2", recall=True) == "Lại A, một trăm lẻ năm, quầy hai"


@pytest.mark.parametrize(
    "template", ["Số {number}", "Số {number} quầy {counter} {name}", "Số {number quầy {counter}"]
)
def test_templates_must_use_number_and_counter(template: str) -> None:
    with pytest.raises(InvalidInput, match="template"):
        Templates(call=template, recall="{number} {counter}")


def test_settings_defaults_and_validation() -> None:
    settings = SpeechSettings()
    assert (settings.voice_name, settings.rate, settings.repeat) == ("north", RATE, 1)
    assert SpeechSettings(language="en").voice_name == "english"
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.rate = 200  # type: ignore[misc]
    for bad in (
        {"repeat": 0},
        {"repeat": 4},
        {"rate": 10},
        {"language": "fr"},
        {"reading": "words"},
        {"zero_tens": "lẻo"},
    ):
        with pytest.raises(InvalidInput):
            SpeechSettings(**bad)


def test_unknown_voice_names_the_voice_and_the_valid_ones() -> None:
    assert [voice_id(v) for v in ("north", "central", "south")] == [
        "aav/vi",
        "aav/vi-vn-x-central",
        "aav/vi-vn-x-south",
    ]
    with pytest.raises(UnknownVoiceError) as caught:
        voice_id("hanoi")
    assert isinstance(caught.value, ValueError)
    assert "'hanoi'" in str(caught.value)
    assert "central, english, north, south" in str(caught.value)
    with pytest.raises(UnknownVoiceError):
        SpeechSettings(voice="hanoi")
    with pytest.raises(UnknownVoiceError):
        AnnouncementCache.key_for(CALL_A023, "hanoi", RATE)


def test_voice_ids_are_the_ones_pyttsx3_lists_here() -> None:
    # In a child process, so libespeak-ng is never loaded into the test process.
    listing = "import pyttsx3; print(*(v.id for v in pyttsx3.init('espeak').getProperty('voices')))"
    done = subprocess.run(
        [sys.executable, "-c", listing], capture_output=True, text=True, check=True
    )
    assert set(VOICES.values()) <= set(done.stdout.split())


def test_key_is_content_addressed() -> None:
    key = AnnouncementCache.key_for(CALL_A023, "north", RATE)
    assert len(key) == 64 and int(key, 16) >= 0
    decomposed = unicodedata.normalize("NFD", CALL_A023)
    assert AnnouncementCache.key_for(decomposed, "north", RATE) == key
    assert AnnouncementCache.key_for(CALL_A023, "north", RATE, pause_ms=100) == key
    others = {
        AnnouncementCache.key_for(CALL_A024, "north", RATE),
        AnnouncementCache.key_for(CALL_A023, "south", RATE),
        AnnouncementCache.key_for(CALL_A023, "north", RATE + 1),
        AnnouncementCache.key_for(CALL_A023, "north", RATE, repeat=2),
    }
    assert key not in others and len(others) == 4
    assert AUDIO_CACHE_CONTROL == "public, max-age=31536000, immutable"


def test_repeat_wav_joins_copies_with_silence() -> None:
    once = _wav(b"\x01\x02" * 100)
    twice = _frames(repeat_wav(once, 2, pause_ms=10))
    assert twice == b"\x01\x02" * 100 + b"\x00\x00" * 220 + b"\x01\x02" * 100
    with pytest.raises(SpeechRenderError, match="no audio"):
        repeat_wav(_wav(b""), 2, pause_ms=10)


# ---------------------------------------------------------------- real renders


def _wav(frames: bytes, rate: int = 22050) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(frames)
    return out.getvalue()


def _frames(wav: bytes) -> bytes:
    with wave.open(io.BytesIO(wav)) as reader:
        return bytes(reader.readframes(reader.getnframes()))


def _espeak_cli_frames(text: str, voice: str, rate: int, tmp_path: Path) -> bytes:
    target = tmp_path / "cli.wav"
    subprocess.run(
        ["espeak-ng", "-v", voice_id(voice), "-s", str(rate), "-w", str(target), text], check=True
    )
    return _frames(target.read_bytes())


@pytest.mark.parametrize("voice", ["north", "central", "south"])
async def test_real_render_speaks_exactly_the_text(voice: str, tmp_path: Path) -> None:
    renderer = SpeechRenderer()
    wav = await renderer.render(CALL_A023, voice, RATE)
    with wave.open(io.BytesIO(wav)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (
            1,
            2,
            22050,
        )
        assert reader.getnframes() / reader.getframerate() > 0.5
    # The same samples as espeak-ng itself speaking this text in this voice; one digit off
    # ("bốn" for "ba") and the samples differ, so a wrong text cannot pass.
    assert _frames(wav) == _espeak_cli_frames(CALL_A023, voice, RATE, tmp_path)
    assert _frames(wav) != _espeak_cli_frames(CALL_A024, voice, RATE, tmp_path)
    other = await renderer.render(CALL_A024, voice, RATE)
    assert _frames(other) != _frames(wav)
    assert _frames(other) == _espeak_cli_frames(CALL_A024, voice, RATE, tmp_path)


@pytest.mark.parametrize("rate", [100, 200, 260])
async def test_the_asked_rate_is_the_spoken_rate(rate: int, tmp_path: Path) -> None:
    # pyttsx3 2.99 can discard a rate change (see _save_with_pyttsx3); the samples prove it held.
    wav = await SpeechRenderer().render(CALL_A023, "north", rate)
    assert _frames(wav) == _espeak_cli_frames(CALL_A023, "north", rate, tmp_path)


async def test_voices_sound_different_and_repeat_adds_a_pause() -> None:
    renderer = SpeechRenderer(max_workers=3)
    north, central, south = await asyncio.gather(
        *(renderer.render(CALL_A023, v, RATE) for v in ("north", "central", "south"))
    )
    assert len({_frames(north), _frames(central), _frames(south)}) == 3
    twice = await renderer.render(CALL_A023, "north", RATE, repeat=2, pause_ms=500)
    once = _frames(north)
    assert _frames(twice) == once + b"\x00\x00" * 11025 + once


async def test_english_render() -> None:
    text = announcement_text("A023", "5", language="en")
    wav = await SpeechRenderer().render(text, "english", RATE)
    with wave.open(io.BytesIO(wav)) as reader:
        assert reader.getnframes() / reader.getframerate() > 1.0


async def test_a_render_that_takes_too_long_is_killed() -> None:
    with pytest.raises(SpeechRenderError, match="no audio within"):
        await SpeechRenderer(timeout=0.001).render(CALL_A023, "north", RATE)


def test_worker_reports_errors_on_stderr_and_writes_no_audio() -> None:
    request = json.dumps({"text": CALL_A023, "voice": "north", "rate": 5})
    done = subprocess.run(
        [sys.executable, "-m", "displays.speech"],
        input=request.encode(),
        capture_output=True,
        cwd=Path(__file__).resolve().parents[1],
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == b""
    assert b"InvalidInput: rate must be" in done.stderr


# ---------------------------------------------------------------- the cache


class CountingRenderer:
    """The real renderer, counting the renders that reach it."""

    def __init__(self) -> None:
        self.inner = SpeechRenderer(max_workers=2)
        self.calls: list[str] = []

    async def render(
        self, text: str, voice: str, rate: int, *, repeat: int = 1, pause_ms: int = 700
    ) -> bytes:
        self.calls.append(text)
        return await self.inner.render(text, voice, rate, repeat=repeat, pause_ms=pause_ms)


async def test_cache_hit_returns_the_same_path_without_rendering(tmp_path: Path) -> None:
    counting = CountingRenderer()
    cache = AnnouncementCache(tmp_path / "audio", counting)
    first = await cache.get_or_render(CALL_A023, "north", RATE)
    second = await cache.get_or_render(CALL_A023, "north", RATE)
    assert first == second == tmp_path / "audio" / f"{cache.key_for(CALL_A023, 'north', RATE)}.wav"
    assert counting.calls == [CALL_A023] and cache.renders == 1
    # A new cache over the same folder (a restarted process) finds the file too.
    again = AnnouncementCache(tmp_path / "audio", counting)
    assert await again.get_or_render(CALL_A023, "north", RATE) == first
    assert len(counting.calls) == 1
    assert sorted(p.name for p in (tmp_path / "audio").iterdir()) == [first.name]
    assert cache.path_for_key(first.stem) == first
    for bad in ("../secret", first.stem.upper(), first.stem[:-1], "0" * 64):
        assert cache.path_for_key(bad) is None


async def test_concurrent_gets_of_one_key_render_once(tmp_path: Path) -> None:
    counting = CountingRenderer()
    cache = AnnouncementCache(tmp_path, counting)
    paths = await asyncio.gather(*(cache.get_or_render(CALL_A023, "south", RATE) for _ in range(8)))
    assert len(set(paths)) == 1 and len(counting.calls) == 1
    assert _frames(paths[0].read_bytes()) == _frames(
        await SpeechRenderer().render(CALL_A023, "south", RATE)
    )


async def test_a_cancelled_waiter_does_not_cancel_the_render(tmp_path: Path) -> None:
    counting = CountingRenderer()
    cache = AnnouncementCache(tmp_path, counting)
    impatient = asyncio.create_task(cache.get_or_render(CALL_A023, "north", RATE))
    patient = asyncio.create_task(cache.get_or_render(CALL_A023, "north", RATE))
    await asyncio.sleep(0.01)
    impatient.cancel()
    path = await asyncio.wait_for(patient, scaled(10))
    assert path.is_file() and len(counting.calls) == 1


async def test_a_failed_render_leaves_no_file_and_is_retried(tmp_path: Path) -> None:
    cache = AnnouncementCache(tmp_path, SpeechRenderer(timeout=0.001))
    results = await asyncio.gather(
        *(cache.get_or_render(CALL_A023, "north", RATE) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, SpeechRenderError) for r in results)
    assert list(tmp_path.iterdir()) == [] and cache.renders == 1
    with pytest.raises(SpeechRenderError):
        await cache.get_or_render(CALL_A023, "north", RATE)
    assert cache.renders == 2


async def test_five_renders_do_not_block_the_event_loop(tmp_path: Path) -> None:
    cache = AnnouncementCache(tmp_path)  # the default: one render at a time
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.005)

    ticking = asyncio.create_task(ticker())
    started = time.perf_counter()
    calls = await asyncio.gather(
        *(announcement_for_call(cache, f"A{n:03d}", "5") for n in range(5))
    )
    elapsed = time.perf_counter() - started
    ticking.cancel()
    assert len({path for _, path in calls}) == 5 and cache.renders == 5
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    # A render takes ~0.2 s; had one run on the loop, one gap would be at least that long.
    assert max(gaps) < scaled(0.1), f"the loop stalled for {max(gaps):.3f} s"
    assert len(ticks) > elapsed / 0.02


async def test_announcement_for_call(tmp_path: Path) -> None:
    cache = AnnouncementCache(tmp_path)
    settings = SpeechSettings(voice="central", reading="number", repeat=2, pause_ms=300)
    text, path = await announcement_for_call(cache, "B105", "3A", settings, recall=True)
    assert text == "Nhắc lại: mời công dân có số thứ tự bê, một trăm linh năm đến quầy số ba a"
    assert path.stem == cache.key_for(text, "central", RATE, repeat=2, pause_ms=300)
    with wave.open(str(path)) as reader:
        assert reader.getnframes() / reader.getframerate() > 2 * 2.0
    english, en_path = await announcement_for_call(
        cache, "A023", "5", SpeechSettings(language="en")
    )
    assert english == "Ticket number A, zero, two, three, please go to counter five"
    assert en_path.stem == cache.key_for(english, "english", RATE)
