"""The message catalogue (queue_server/messages.py): every reason the code can refuse with has
a Vietnamese sentence, both languages name the same fields, and a script's refusal in either
wire form becomes the right error with its reason and fields."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from redis.exceptions import ResponseError

from queue_server import errors, messages
from queue_server.api.problems import _VALIDATION_REASONS
from queue_server.script_runner import translate_error

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("queue_server", "displays", "counters", "monitoring")
# Files whose raises still name no reason of their own (their kind's sentence is shown, with
# the specific English): the engine's and the rules' (the lead's), and start-up
# configuration, read by an operator at a terminal.
PENDING = ("queue_server/engine.py", "queue_server/rules/", "queue_server/province_loader.py",
           "queue_server/settings.py", "queue_server/embedded.py",
           "queue_server/redis_client.py", "displays/speech.py", "displays/speech_config.py",
           "displays/announcements.py")
# A script refuses with fail('<code>', '<reason>', {fields}) (the first form had an English
# sentence where the reason is).
LUA_FAIL = re.compile(r"""fail\(\s*'([a-z-]+)'\s*,\s*'([a-z][a-z0-9_]*)'\s*[,)]""")
LUA_CODE = re.compile(r"""fail\(\s*'([a-z-]+)'""")
ERROR_CLASSES = {name for name, value in vars(errors).items()
                 if isinstance(value, type) and issubclass(value, errors.QmsError)}


def python_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def reasons_in_python() -> dict[str, str]:
    """Every reason a raise, a problem() call or a class names: reason → where."""
    found: dict[str, str] = {}
    for path in python_files():
        tree = ast.parse(path.read_text(), str(path))
        where = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            named = (isinstance(node, ast.keyword) and node.arg == "reason") or (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "reason" for t in node.targets))
            value = getattr(node, "value", None)
            if named and isinstance(value, ast.Constant) and isinstance(value.value, str):
                found[value.value] = f"{where}:{value.lineno}"
        # The CLI's own sentences: CliError.of("<reason>", …)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "of" and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                found[node.args[0].value] = f"{where}:{node.lineno}"
    # RateLimited's reason is rate_limited_<scope>, one per scope a route limits.
    for scope in re.findall(r'rate_limit\("([a-z]+)"',
                            (ROOT / "queue_server/api/tickets.py").read_text()):
        found[f"rate_limited_{scope}"] = "queue_server/api/tickets.py"
    for reason in _VALIDATION_REASONS.values():
        found[reason] = "queue_server/api/problems.py"
    return found


def lua_sources() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((ROOT / "queue_server/lua").glob("*.lua"))}


def test_every_entry_has_vietnamese_and_the_same_fields_in_both_languages() -> None:
    catalogue = messages.catalogue()
    assert len(catalogue) > 50
    for reason, message in catalogue.items():
        assert messages.REASON.match(reason.removeprefix("title.").removeprefix("value.")), reason
        assert message.vi.strip() and message.en.strip(), reason
        assert message.vi != message.en, f"{reason}: the Vietnamese is a copy of the English"
        assert messages.placeholders(message.vi) == messages.placeholders(message.en), reason


def test_citizens_are_addressed_one_way() -> None:
    """"Ông/Bà" everywhere (docs/displays.md): never "bạn" or "quý khách" in the catalogue."""
    for reason, message in messages.catalogue().items():
        words = re.findall(r"\w+", message.vi.lower())
        assert "bạn" not in words and "quý khách" not in message.vi.lower(), reason


def test_every_reason_of_the_python_code_has_a_vietnamese_text() -> None:
    missing = {reason: where for reason, where in reasons_in_python().items()
               if not messages.has(reason)}
    assert not missing, f"reasons without a catalogue entry: {missing}"


def test_every_reason_of_the_scripts_has_a_vietnamese_text() -> None:
    missing = {}
    for name, source in lua_sources().items():
        for _code, reason in LUA_FAIL.findall(source):
            if not messages.has(reason):
                missing[reason] = name
    assert not missing, f"script reasons without a catalogue entry: {missing}"


def test_every_problem_kind_has_a_title_and_a_sentence() -> None:
    codes = {cls.code for name in ERROR_CLASSES for cls in [getattr(errors, name)]}
    for source in lua_sources().values():
        codes |= set(LUA_CODE.findall(source))
    codes |= {"bad-request", "method-not-allowed", "internal", "unknown-voice",
              "speech-render-failed"}
    for code in sorted(codes):
        assert messages.has("title." + code.replace("-", "_")), code
    for name in ERROR_CLASSES:
        assert messages.has(getattr(errors, name).reason), name


def _raises_without_reason(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            func = node.exc.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in ERROR_CLASSES - {"ConfigError"} and not any(
                    k.arg == "reason" for k in node.exc.keywords):
                lines.append(node.lineno)
    return lines


def test_every_raise_names_its_reason() -> None:
    """A person must read a sentence that fits, not the sentence of a whole kind."""
    missing = {}
    for path in python_files():
        where = str(path.relative_to(ROOT))
        if where.startswith(PENDING):
            continue
        if lines := _raises_without_reason(path):
            missing[where] = lines
    assert not missing, f"raises without reason=: {missing}"


@pytest.mark.parametrize(("wire", "kind", "reason", "fields"), [
    # the lead's form: QMS <code> <reason> <json fields>, with what Redis appends
    ('QMS counter-state counter_busy {"counter":"2","ticket":"A023"} script: f_1, on '
     '@user_script:12.', errors.CounterStateError, "counter_busy",
     {"counter": "2", "ticket": "A023"}),
    ('QMS unknown-ticket no_such_ticket {"ticket":"06799-20261201-A001"}',
     errors.UnknownTicket, "no_such_ticket", {"ticket": "06799-20261201-A001"}),
    ("QMS illegal-transition ticket_already_rated", errors.IllegalTransition,
     "ticket_already_rated", {}),
    # the first form: an English sentence, shown under the code's own Vietnamese sentence
    ("QMS counter-state counter 2 is paused, not open script: x", errors.CounterStateError,
     "counter_state", {}),
    ("QMS invalid-input the queue land is full (5000 waiting)", errors.InvalidInput,
     "invalid_input", {}),
])
def test_script_refusals_in_both_forms(wire: str, kind: type[errors.QmsError], reason: str,
                                       fields: dict[str, str]) -> None:
    error = translate_error(ResponseError(wire))
    assert type(error) is kind
    assert isinstance(error, errors.QmsError)
    # A ticket id also gives its number, which is what a person recognises.
    number = {"number": fields["ticket"].rsplit("-", 1)[-1]} if "ticket" in fields else {}
    assert error.reason == reason and error.fields == {**fields, **number}
    vi, en = messages.describe(error)
    assert vi and en and "script:" not in en
    if reason == "counter_state":
        assert en == "counter 2 is paused, not open"
        assert vi == messages.render("counter_state")


def test_rendering_fills_fields_and_never_shows_a_bare_key() -> None:
    assert messages.render("no_such_counter", {"center": "06799", "counter": "9"}) == (
        "Trung tâm 06799 không có quầy 9: hãy kiểm tra lại địa chỉ.")
    assert messages.render("no_such_counter", {"center": "06799", "counter": "9"}, "en") == (
        "Center 06799 has no counter 9: check the address.")
    assert messages.render("not_a_reason_anyone_wrote") == messages.render("qms_error")
    assert messages.render("unknown_voice", {"voice": "x", "voices": ["north", "south"]},
                           "en").endswith("north, south.")
    error = errors.Forbidden(reason="other_center", center="06799", own="06800")
    assert str(error) == "This login or device belongs to center 06800, not to center 06799."
    assert messages.describe(error)[0].startswith("Phiên đăng nhập hoặc thiết bị này thuộc")


# The pages name catalogue sentences by their key: QMS.message('key', …) in the citizen and
# hall pages, say("key", …) in the staff pages (and book.js's own say()); the first argument
# may choose between keys (late ? 'a' : 'b').
PAGE_MESSAGE = re.compile(r"""(?:Q\.message|\bsay)\(([^,)]*)""")
KEY_LITERAL = re.compile(r"""['"]([a-z][a-z0-9_]*)['"]""")
PAGE_SCRIPTS = ("displays/static/js", "counters/static", "monitoring/static", "queue_server/static")


def test_every_sentence_a_page_names_is_in_the_catalogue() -> None:
    named: dict[str, str] = {}
    for folder in PAGE_SCRIPTS:
        for path in sorted((ROOT / folder).glob("*.js")):
            for argument in PAGE_MESSAGE.findall(path.read_text(encoding="utf-8")):
                for key in KEY_LITERAL.findall(argument):
                    named[key] = str(path.relative_to(ROOT))
    assert len(named) > 30, named  # the check sees the pages' keys at all
    missing = {key: where for key, where in named.items() if not messages.has(key)}
    assert not missing, f"sentences the pages name without a catalogue entry: {missing}"
