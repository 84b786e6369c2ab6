"""A lobby display in a terminal: ``python -m displays.client --center 06799 --token dev.…``.

It reads the center's page settings over HTTP, opens ``/ws/display/{center}`` with the
``websockets`` library, and draws the board: a full-screen ANSI redraw on a terminal, one line
per change when the output is a pipe or a file. Each call is spoken locally: the sentence and
the WAV come from the speech module (pyttsx3 + espeak-ng, cached under ``--audio-dir``) and are
played with the first audio player found (aplay, paplay, pw-play, sox's play, ffplay) or
``--player``. The channel follows docs/live-protocol.md through ``displays.live`` (the same
rules as the pages' live.js): when the link drops or falls silent it reconnects with backoff
(0.5 s doubling to 15 s, with jitter) and resumes from the last event id, so no call is
missed; a call missed while disconnected is still spoken if it is less than two minutes old.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import shlex
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, urlsplit

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from displays.board import Board, Call, render_lines
from displays.live import SILENCE_S, LiveSession
from displays.speech import VOICES, AnnouncementCache, SpeechSettings
from queue_server import messages
from queue_server.rules.clock import TIMEZONE

FATAL = {4401: "the display token is invalid or revoked",
         4403: "the token belongs to another center", 4404: "unknown center",
         4400: "the server could not read the channel's address"}
PLAYERS = (["aplay", "-q"], ["paplay"], ["pw-play"], ["play", "-q"],
           ["ffplay", "-nodisp", "-autoexit", "-loglevel", "quiet"])
FRESH_CALL_MS = 120_000


class Screen:
    """Full redraws on a terminal; plain log lines when writing to a pipe or a file."""

    def __init__(self, out: TextIO, names: dict[str, str]) -> None:
        self.out = out
        self.names = names
        self.tty = out.isatty()
        self.status = ""

    def line(self, text: str) -> None:
        if not self.tty:
            # The center's clock (Asia/Ho_Chi_Minh), whatever zone the machine is set to.
            stamp = dt.datetime.now(TIMEZONE).strftime("%H:%M:%S")
            print(f"[{stamp}] {text}", file=self.out, flush=True)

    def draw(self, board: Board) -> None:
        if self.tty:
            lines = render_lines(board, self.names, self.status)
            self.out.write("\x1b[H\x1b[2J" + "\n".join(lines) + "\n")
            self.out.flush()

    def set_status(self, text: str, board: Board) -> None:
        self.status = text
        self.line(text)
        self.draw(board)


class Speaker:
    """Speaks calls one after another; rendering and playing never block the event loop."""

    def __init__(self, settings: SpeechSettings, cache_dir: Path, player: list[str] | None,
                 screen: Screen) -> None:
        self.settings = settings
        self.cache = AnnouncementCache(cache_dir)
        self.player = player
        self.screen = screen
        self.queue: asyncio.Queue[Call] = asyncio.Queue()
        self.warned = False
        self.task: asyncio.Task[None] | None = None

    def say(self, call: Call) -> None:
        if self.task is None:
            self.task = asyncio.create_task(self._run())
        self.queue.put_nowait(call)

    async def _run(self) -> None:
        while True:
            call = await self.queue.get()
            text = self.settings.text_for(call.number, call.counter, recall=call.recall)
            try:
                path = await self.cache.get_or_render(
                    text, self.settings.voice_name, self.settings.rate,
                    repeat=self.settings.repeat, pause_ms=self.settings.pause_ms)
                await self._play(path)
            except Exception as error:  # speech must never stop the board
                self._warn(f"cannot speak {call.number}: {error}")

    async def _play(self, path: Path) -> None:
        if self.player is None:
            self._warn("no audio player found (aplay, paplay, pw-play, play, ffplay): calls "
                       "are shown but not spoken; use --player or --no-speech")
            return
        child = await asyncio.create_subprocess_exec(
            *self.player, str(path), stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        _, err = await child.communicate()
        if child.returncode:
            self._warn(f"{self.player[0]} failed ({child.returncode}): "
                       f"{err.decode(errors='replace').strip()[-200:]}")

    def _warn(self, text: str) -> None:
        if not self.warned:  # once: a hall without speakers must not flood the log
            self.warned = True
            print(f"warning: {text}", file=sys.stderr, flush=True)


def find_player(given: str | None) -> list[str] | None:
    if given:
        return shlex.split(given)
    return next((list(p) for p in PLAYERS if shutil.which(p[0])), None)


def fetch_json(url: str, timeout: float = 10.0) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


async def load_config(server: str, center: str) -> dict[str, Any] | None:
    """The center's page settings, or None after saying why they cannot be read."""
    try:
        config: dict[str, Any] = await asyncio.to_thread(
            fetch_json, f"{server}/api/v1/centers/{quote(center)}/page-config")
        return config
    except urllib.error.HTTPError as error:
        body = error.read().decode(errors="replace")
        detail = json.loads(body).get("detail", body) if body.startswith("{") else body
        print(f"error: {server} answered {error.code}: {detail}", file=sys.stderr)
    except (OSError, ValueError) as error:
        print(f"error: cannot read {server}: {error}", file=sys.stderr)
    return None


class DisplayClient:
    def __init__(self, args: argparse.Namespace, config: dict[str, Any], out: TextIO) -> None:
        self.center, self.token = args.center, args.token
        self.screen = Screen(out, {s["id"]: s["name"] for s in config["services"]})
        self.speaker: Speaker | None = None
        if not args.no_speech:
            voice = args.voice or (config["center"]["voice"] if args.lang == "vi" else "english")
            settings = SpeechSettings(language=args.lang, voice=voice)
            self.speaker = Speaker(settings, Path(args.audio_dir), find_player(args.player),
                                   self.screen)
        host = urlsplit(args.server).hostname or "127.0.0.1"
        self.ws_base = args.ws or f"ws://{host}:{config['ws_port']}/ws"
        self.board = Board(name=config["center"]["name"])
        self.session = LiveSession(f"{self.ws_base}/display/{quote(self.center)}", self.token)
        self.warned_frame = False

    def skipped(self, why: str) -> None:
        if not self.warned_frame:  # once: a bad feed must not flood the log
            self.warned_frame = True
            print(f"warning: skipped a malformed frame (logged once): {why}", file=sys.stderr,
                  flush=True)

    def handle(self, message: bytes | str) -> None:
        frame, first = self.session.receive(message)
        if frame is None:
            if self.session.bad_frames:
                self.skipped(self.session.last_error)
            return
        if first:  # the server accepted us
            resumed = self.session.resumed
            self.screen.set_status(
                f"connected to {self.ws_base}"
                + (f" (resumed after {self.session.resumed_from})" if resumed else ""),
                self.board)
        try:
            call = self.board.apply_frame(frame)
        except (ValueError, KeyError, TypeError) as error:
            self.skipped(str(error))
            return
        self.screen.draw(self.board)
        if frame["type"] == "event" and (frame.get("event") or {}).get("type") == "day_closed":
            self.screen.line(messages.render("day_closed_display"))
        if call is None:
            return
        self.screen.line(f"{'nhắc lại' if call.recall else 'gọi'} {call.number} → quầy "
                         f"{call.counter}{' ★ ưu tiên' if call.priority else ''}")
        if self.speaker and self.board.now_ms - call.at < FRESH_CALL_MS:
            self.speaker.say(call)

    async def follow(self) -> tuple[int, str]:
        """One connection, until it ends: its close code and reason (1006: none came)."""
        url = self.session.connecting()
        offered = [Subprotocol(p) for p in self.session.subprotocols]
        try:
            async with connect(url, subprotocols=offered, open_timeout=10,
                               max_size=2**22) as socket:
                while True:
                    # The heartbeat watchdog: silence this long means a dead link.
                    self.handle(await asyncio.wait_for(socket.recv(), SILENCE_S))
        except ConnectionClosed as closed:
            if closed.rcvd is None:
                return 1006, ""
            return closed.rcvd.code, closed.rcvd.reason
        except InvalidStatus as error:
            self.screen.line(f"the server refused the connection: {error}")
        except TimeoutError:
            self.screen.line(f"no frame for {SILENCE_S:.0f} s: reconnecting")
        except (OSError, InvalidHandshake) as error:
            self.screen.line(f"cannot connect: {error}")
        return 1006, ""

    async def run(self) -> int:
        """Follow the center until a fatal close (returns 3); reconnects on anything else."""
        while True:
            code, reason = await self.follow()
            delay = self.session.closed(code)
            if delay is None:
                print(f"error: {FATAL.get(code, 'refused')} ({code}: {reason})", file=sys.stderr)
                return 3
            self.screen.set_status(f"Đang kết nối lại… / Reconnecting in {delay:.1f} s",
                                   self.board)
            await asyncio.sleep(delay)


async def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    config = await load_config(args.server.rstrip("/"), args.center)
    if config is None:
        return 2
    return await DisplayClient(args, config, out).run()


def build_parser() -> argparse.ArgumentParser:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "qms-display"
    parser = argparse.ArgumentParser(
        prog="python -m displays.client", description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit codes: 2 the server or center cannot be read, 3 the token was refused. "
        "Stop it with Ctrl+C.")
    parser.add_argument("--center", required=True, help="center code, e.g. 06799")
    parser.add_argument("--token", required=True, help="a display device token (dev.…) of it")
    parser.add_argument("--server", default="http://127.0.0.1:8000",
                        help="the queue server's HTTP address (default %(default)s)")
    parser.add_argument("--ws", help="WebSocket base, e.g. ws://host:8001/ws (default: the "
                        "server's host and the port its /page-config reports)")
    parser.add_argument("--voice", choices=sorted(VOICES),
                        help="accent for spoken calls (default: the center's voice)")
    parser.add_argument("--lang", choices=("vi", "en"), default="vi",
                        help="language of spoken calls (default %(default)s)")
    parser.add_argument("--no-speech", action="store_true", help="show calls, do not speak them")
    parser.add_argument("--player", help="command that plays a WAV file, e.g. 'aplay -q' "
                        "(default: the first of aplay, paplay, pw-play, play, ffplay found)")
    parser.add_argument("--audio-dir", default=str(cache),
                        help="where rendered calls are cached (default %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run(args))
    return 130


if __name__ == "__main__":
    sys.exit(main())
