"""``python -m counters``: the counter console on the command line.

Log in once (the token is kept in ``~/.config/qms/token``, or given in ``$QMS_TOKEN``), then
act on a counter. Every action sends a fresh ``Idempotency-Key`` (kept across the client's
own retries, so a retried request acts once). Answers print in Vietnamese, then English;
a refusal prints one sentence from the server's problem ``detail`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import sys
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from counters.client import Client, CliError, Stored, config_dir

DEFAULT_SERVER = "http://127.0.0.1:8000"
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
STATES = {"open": "Đang mở / open", "paused": "Tạm dừng / paused", "closed": "Đã đóng / closed"}
STATUSES = {"waiting": "đang chờ / waiting", "called": "đã gọi / called",
            "serving": "đang phục vụ / serving", "done": "đã xong / done",
            "no_show": "vắng mặt / no-show", "transferred": "đã chuyển / transferred"}
DESCRIPTION = """Bàn làm việc quầy trên dòng lệnh / The counter console on the command line.

  python -m counters --server http://HOST:8000 login USER
  python -m counters next --counter 1
  python -m counters transfer --counter 1 --service land --to-counter 3 --note "hồ sơ đất"

The login is kept in $XDG_CONFIG_HOME/qms/token (~/.config/qms/token); $QMS_TOKEN, when set,
is used instead. The center defaults to the login's own; --center and --counter may also come
from $QMS_CENTER and $QMS_COUNTER. The server: --server, else $QMS_SERVER, else the one of
the last login, else http://127.0.0.1:8000.
Exit status: 0 done; 2 refused or failed (one sentence on stderr, from the server's answer)."""


def _duration(ms: int) -> str:
    seconds = max(0, ms // 1000)
    minutes, seconds = divmod(seconds, 60)
    if minutes >= 60:
        return f"{minutes // 60} giờ {minutes % 60} phút"
    return f"{minutes} phút {seconds} giây" if minutes else f"{seconds} giây"


def _clock(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, LOCAL).strftime("%H:%M:%S")


class Console:
    """One invocation: the parsed arguments, the stored login and the HTTP client."""

    def __init__(self, args: argparse.Namespace, stored: Stored) -> None:
        self.args = args
        self.stored = stored
        server = (args.server or os.environ.get("QMS_SERVER") or stored.server()
                  or DEFAULT_SERVER)
        self.client = Client(server, stored.token())
        self._names: dict[str, Any] | None = None
        self._center: str | None = (getattr(args, "center", None) or os.environ.get("QMS_CENTER")
                                    or None)

    # ------------------------------------------------------------------ context

    def center(self) -> str:
        if self._center is None:
            if not self.client.token:
                raise CliError.of("cli_not_logged_in")
            me = self.client.request("GET", "/api/v1/auth/me")
            if not me.get("center"):
                raise CliError.of("cli_login_without_center")
            self._center = str(me["center"])
        return self._center

    def counter(self) -> str:
        counter: str | None = getattr(self.args, "counter", None) or os.environ.get("QMS_COUNTER")
        if not counter:
            raise CliError.of("cli_counter_needed")
        return counter

    def names(self) -> dict[str, Any]:
        if self._names is None:
            self._names = self.client.request("GET", "/api/v1/services")
        return self._names

    def service_name(self, service_id: str) -> str:
        rows = self.names()["services"]
        return next((r["name"] for r in rows if r["id"] == service_id), service_id)

    def reason_name(self, reason_id: str) -> str:
        rows = self.names()["pause_reasons"]
        return next((f"{r['name']} / {r['name_en']}" for r in rows if r["id"] == reason_id),
                    reason_id)

    def act(self, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        path = f"/api/v1/centers/{self.center()}/counters/{self.counter()}/{action}"
        result: dict[str, Any] = self.client.request("POST", path, body or {},
                                                     key=str(uuid.uuid4()))
        return result

    def snapshot(self, tickets: int) -> dict[str, Any]:
        result: dict[str, Any] = self.client.request(
            "GET", f"/api/v1/centers/{self.center()}/live?tickets={tickets}")
        return result


# ---------------------------------------------------------------------- commands


def cmd_login(console: Console) -> str:
    args = console.args
    password = args.password or os.environ.get("QMS_PASSWORD") or getpass.getpass(
        "Mật khẩu / Password: ")
    answer = console.client.request("POST", "/api/v1/auth/login",
                                    {"username": args.username, "password": password})
    console.stored.save(console.client.server, answer["token"])
    hours = int(answer["expires_in"]) // 3600
    where = f" (trung tâm / center {answer['center']})" if answer.get("center") else ""
    return (f"Đã đăng nhập: {answer['name']} — {answer['role']}{where}; phiên dùng {hours} giờ. "
            f"/ Logged in for {hours} h; token kept in {console.stored.token_file}.")


def cmd_logout(console: Console) -> str:
    if console.stored.forget():
        return "Đã đăng xuất. / Logged out."
    return "Chưa đăng nhập. / Was not logged in."


def cmd_open(console: Console) -> str:
    body: dict[str, Any] = {"force": console.args.force}
    if console.args.staff:
        body["staff"] = console.args.staff
    counter = console.act("open", body)["counter"]
    return (f"Quầy {counter['id']} đang mở, do {counter['staff']} phụ trách. "
            f"/ Counter {counter['id']} is open, held by {counter['staff']}.")


def _called(console: Console, out: dict[str, Any]) -> str:
    ticket = out.get("ticket")
    if not ticket:
        return "Không có ai đang chờ. / Nobody is waiting."
    waited = _duration(ticket["called"] - ticket["arrived"])
    return (f"Mời số {ticket['number']} đến quầy {ticket['counter']} — "
            f"{console.service_name(ticket['service'])} (đã chờ {waited}). "
            f"/ Called {ticket['number']} to counter {ticket['counter']}.")


def cmd_next(console: Console) -> str:
    return _called(console, console.act("call-next"))


def _find_ticket(console: Console, wanted: str) -> str:
    """A ticket id from an id or a number such as B003 among the waiting tickets."""
    if "-" in wanted:
        return wanted
    snap = console.snapshot(200)
    rows = [t for s in snap["services"] for t in s["tickets"]]
    rows += [t for c in snap["counters"] for t in c.get("tickets", [])]
    for row in rows:
        if row["number"].upper() == wanted.upper():
            return str(row["id"])
    raise CliError.of("cli_no_waiting_ticket", number=wanted)


def cmd_call(console: Console) -> str:
    ticket_id = _find_ticket(console, console.args.ticket)
    return _called(console, console.act("call", {"ticket_id": ticket_id}))


def cmd_recall(console: Console) -> str:
    ticket = console.act("recall")["ticket"]
    if ticket["status"] == "no_show":
        return (f"Số {ticket['number']} đã quá số lần gọi lại: vắng mặt. "
                f"/ {ticket['number']} passed the recall limit: no-show.")
    return (f"Đã gọi lại số {ticket['number']} (lần {ticket['recalls']}). "
            f"/ Recalled {ticket['number']} ({ticket['recalls']}).")


def cmd_start(console: Console) -> str:
    ticket = console.act("start")["ticket"]
    return (f"Đang phục vụ số {ticket['number']} (đã chờ "
            f"{_duration(ticket['started'] - ticket['arrived'])}). / Serving {ticket['number']}.")


def cmd_complete(console: Console) -> str:
    ticket = console.act("complete")["ticket"]
    return (f"Đã hoàn thành số {ticket['number']} (phục vụ "
            f"{_duration(ticket['ended'] - ticket['started'])}). / Completed {ticket['number']}.")


def cmd_no_show(console: Console) -> str:
    ticket = console.act("no-show")["ticket"]
    return f"Số {ticket['number']} vắng mặt. / {ticket['number']} marked no-show."


def cmd_transfer(console: Console) -> str:
    args = console.args
    if not args.service and not args.to_counter:
        raise CliError.of("cli_transfer_needs_target")
    out = console.act("transfer", {"to_service": args.service, "to_counter": args.to_counter,
                                   "note": args.note})
    old, new = out["ticket"], out["new_ticket"]
    where = console.service_name(new["service"])
    if new.get("target_counter"):
        where += f", quầy {new['target_counter']}"
    return (f"Đã chuyển số {old['number']} sang {where}: số mới {new['number']}. "
            f"/ Transferred {old['number']}: new ticket {new['number']}.")


def _pause_reason(console: Console, given: str) -> str:
    """A pause reason by its id or its name, with or without accents ("nghi giai lao"); an
    unknown one is refused here with the names a person can type, not the server's ids."""
    rows = console.names()["pause_reasons"]
    wanted = _plain(given)
    for row in rows:
        if wanted in (_plain(row["id"]), _plain(row["name"]), _plain(row["name_en"])):
            return str(row["id"])
    choices = [f"{r['id']} ({r['name']} / {r['name_en']})" for r in rows]
    raise CliError.of("cli_pause_reason_unknown", reason=given, choices=choices)


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower().strip()


def cmd_pause(console: Console) -> str:
    reason = _pause_reason(console, console.args.reason)
    counter = console.act("pause", {"reason": reason})["counter"]
    return (f"Quầy {counter['id']} tạm dừng: {console.reason_name(counter['reason'])}. "
            f"/ Counter {counter['id']} paused.")


def cmd_resume(console: Console) -> str:
    counter = console.act("resume")["counter"]
    return f"Quầy {counter['id']} tiếp tục làm việc. / Counter {counter['id']} resumed."


def cmd_close(console: Console) -> str:
    counter = console.act("close")["counter"]
    return f"Đã đóng quầy {counter['id']}. / Counter {counter['id']} closed."


def _counter_line(console: Console, counter: dict[str, Any], now: int) -> str:
    state = STATES.get(counter["state"], counter["state"])
    line = f"{counter.get('name') or counter['id']}: {state}"
    if counter["staff"]:
        line += f" — {counter['staff']}"
    if counter["state"] == "paused":
        line += f" — {console.reason_name(counter['reason'])} ({_duration(now - counter['since'])})"
    current = counter.get("current")
    if current:
        since = current["started"] or current["called"]
        line += (f" — số / ticket {current['number']} "
                 f"{STATUSES.get(current['status'], current['status'])} ({_duration(now - since)})")
    return line


def cmd_status(console: Console) -> str:
    snap = console.snapshot(5)
    now = snap["now"]
    wanted = console.args.counter or os.environ.get("QMS_COUNTER")
    counters = [c for c in snap["counters"] if not wanted or c["id"] == wanted]
    if not counters:
        raise CliError.of("no_such_counter", counter=wanted, center=snap["center"])
    lines = [f"{snap['name']} ({snap['center']}) — {_clock(now)}"]
    lines += [_counter_line(console, c, now) for c in counters]
    shown = (counters[0]["services"].split(",") if wanted
             else [s["id"] for s in snap["services"]])
    lines.append("Hàng chờ / queues:")
    for service in snap["services"]:
        if service["id"] not in shown:
            continue
        longest = (f", chờ lâu nhất / longest {_duration(now - service['oldest'])}"
                   if service["waiting"] and service["oldest"] else "")
        numbers = " ".join(t["number"] for t in service["tickets"])
        lines.append(f"  {console.service_name(service['id'])}: {service['waiting']} chờ / waiting"
                     f"{longest}{(' — ' + numbers) if numbers else ''}")
    return "\n".join(lines)


def cmd_day(console: Console) -> str:
    day = console.client.request("GET", "/api/v1/me/day")

    def seconds(value: int | None) -> str:
        return "—" if value is None else _duration(value * 1000)

    rating = "—" if day["mean_rating"] is None else f"{day['mean_rating']} ({day['ratings']})"
    return "\n".join([
        f"Ngày làm việc của {day['staff']} / My day — trung tâm / center {day['center']}",
        f"  Đã phục vụ / served: {day['served']}",
        f"  Thời gian phục vụ TB / mean service time: {seconds(day['mean_service_s'])}",
        f"  Vắng mặt / no-shows: {day['no_shows']}",
        f"  Đánh giá TB / mean rating: {rating}",
        f"  Tạm dừng / paused: {seconds(day['paused_s'])}",
    ])


# ---------------------------------------------------------------------- arguments

Command = Callable[[Console], str]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m counters", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", help="server address, e.g. http://10.0.0.5:8000")
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--center", help="center code (default: the login's center)")
    where.add_argument("--counter", help="counter id, e.g. 1 (or $QMS_COUNTER)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, run: Command, help_text: str, *, context: bool = True,
            ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text,
                                  parents=[where] if context else [])
        sub.set_defaults(run=run)
        return sub

    login = add("login", cmd_login, "log in; keeps the token in ~/.config/qms/token",
                context=False)
    login.add_argument("username")
    login.add_argument("--password", help="default: $QMS_PASSWORD, else asked on the terminal")
    add("logout", cmd_logout, "forget the stored token", context=False)
    opening = add("open", cmd_open, "take (open) the counter")
    opening.add_argument("--staff", help="(supervisor) open it for this staff member")
    opening.add_argument("--force", action="store_true",
                         help="(supervisor) hand over a counter someone else holds")
    add("next", cmd_next, "call the next citizen")
    call = add("call", cmd_call, "call a chosen waiting ticket")
    call.add_argument("ticket", help="a ticket number such as B003, or a full ticket id")
    add("recall", cmd_recall, "call the ticket in hand again (no-show past the recall limit)")
    add("start", cmd_start, "start serving the ticket in hand")
    add("complete", cmd_complete, "complete the ticket in hand")
    add("no-show", cmd_no_show, "mark the called ticket in hand as no-show")
    transfer = add("transfer", cmd_transfer,
                   "transfer the ticket in hand to another service and/or counter")
    transfer.add_argument("--service", "--to-service", dest="service",
                          help="target service id, e.g. land")
    transfer.add_argument("--to-counter", help="target counter id (--counter is your own)")
    transfer.add_argument("--note", default="", help="a note for the next counter")
    pause = add("pause", cmd_pause, "pause the counter (no ticket in hand)")
    pause.add_argument("reason", help="pause reason, by id or name: break (Nghỉ giải lao), "
                                      "meeting, system, field_work, other "
                                      "(GET /api/v1/services lists them)")
    add("resume", cmd_resume, "resume a paused counter")
    add("close", cmd_close, "close the counter (no ticket in hand)")
    add("status", cmd_status, "the counter (or every counter) and its queues")
    add("day", cmd_day, "my day so far: served, mean service time, no-shows, rating")
    return parser


def main(argv: Sequence[str] | None = None, stored: Stored | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(args, stored or Stored(config_dir()))
    try:
        print(args.run(console))
    except CliError as error:
        message = str(error)
        if error.status == 401 and args.command != "login":
            message += " (python -m counters login USER)"
        print(f"Lỗi / Error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
