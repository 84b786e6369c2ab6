"""The words of a spoken call: number reading, letter names and templates. No I/O.

A call is a sentence made from a template with two fields, ``{number}`` and ``{counter}``::

    >>> announcement_text("A023", "5")
    'Mời công dân có số thứ tự A, không, hai, ba đến quầy số năm'
    >>> announcement_text("A023", "3A", language="en", reading="number")
    'Ticket number A, twenty three, please go to counter three A'

Ticket numbers (``A023``: up to three letters, then digits) are read in one of two ways:

- ``digits``: every digit on its own, ``A, không, hai, ba`` / ``A, zero, two, three``;
- ``number``: the digits as one number, ``A, hai mươi ba`` / ``A, twenty three``.

The comma after the letters is deliberate: it makes the synthesizer pause, and in English it
keeps ``A`` the letter (``A twenty three`` is read with the article "a").

Counters (``5``, ``12``, ``3A``) always read digit runs as numbers (``quầy số mười hai``) and
letters by name (``3A`` → ``ba a``). Words that are not codes (``Tiếp nhận``) pass through.

Vietnamese numbers follow the common spoken rules: ``mười`` for ten and ``mươi`` for the
other tens, ``mốt`` for a final 1 after ``mươi`` (21 ``hai mươi mốt``, but 11 ``mười một``),
``lăm`` for a final 5 after ``mười``/``mươi`` (15 ``mười lăm``, 25 ``hai mươi lăm``, but 105
``một trăm linh năm``), ``linh`` (northern) or ``lẻ`` (southern) for an empty tens place
(101 ``một trăm linh một``), ``không trăm`` for an empty hundreds place after thousands
(1005 ``một nghìn không trăm linh năm``), and ``nghìn`` (northern) or ``ngàn`` (southern).

Vietnamese letter names are the common spoken forms (``VI_LETTER_NAMES``): A a, B bê, C xê,
D dê, Đ đê, E e, Ê ê, F ép, G gờ, H hát, I i, J di, K ca, L e lờ, M em mờ, N en nờ, O o, Ô ô,
Ơ ơ, P pê, Q quy, R e rờ, S ét xì, T tê, U u, Ư ư, V vê, W vê kép, X ích xì, Y i dài, Z dét,
Ă á, Â ớ. G is ``gờ`` rather than the school name ``giê`` because in northern speech
``giê`` and ``dê`` sound the same (espeak-ng gives both the phonemes ``z'e1``), and a caller
must be able to tell G from D; J is ``di`` because espeak-ng reads ``gi`` alone as a bare
consonant. English letters are written as capitals and read by the English voice.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, get_args

from queue_server.errors import InvalidInput

Language = Literal["vi", "en"]
Reading = Literal["digits", "number"]
ZeroTensWord = Literal["linh", "lẻ"]
ThousandWord = Literal["nghìn", "ngàn"]

LANGUAGES: tuple[str, ...] = get_args(Language)
READINGS: tuple[str, ...] = get_args(Reading)
MAX_NUMBER = 999_999_999_999

VI_DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
EN_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_EN_TEENS = (
    "ten", "eleven", "twelve", "thirteen", "fourteen",
    "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)  # fmt: skip
_EN_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_EN_GROUPS = ("", "thousand", "million", "billion")

VI_LETTER_NAMES: Mapping[str, str] = MappingProxyType({
    "A": "a", "Ă": "á", "Â": "ớ", "B": "bê", "C": "xê", "D": "dê", "Đ": "đê", "E": "e",
    "Ê": "ê", "F": "ép", "G": "gờ", "H": "hát", "I": "i", "J": "di", "K": "ca", "L": "e lờ",
    "M": "em mờ", "N": "en nờ", "O": "o", "Ô": "ô", "Ơ": "ơ", "P": "pê", "Q": "quy",
    "R": "e rờ", "S": "ét xì", "T": "tê", "U": "u", "Ư": "ư", "V": "vê", "W": "vê kép",
    "X": "ích xì", "Y": "i dài", "Z": "dét",
})  # fmt: skip

_TICKET = re.compile(r"^(?P<letters>[A-ZĐ]{0,3})(?P<digits>[0-9]{1,12})$")
# A code is made of capitals and digits only ("3A", "B2", "12"); anything else is a word.
_CODE_TOKEN = re.compile(r"^[A-ZĐ0-9]+$")
_RUNS = re.compile(r"[0-9]+|[A-ZĐ]")
_SEPARATOR = ", "


def read_number_vi(
    n: int, *, zero_tens: ZeroTensWord = "linh", thousand: ThousandWord = "nghìn"
) -> str:
    """Read a whole number 0 … 999 999 999 999 in Vietnamese words.

    >>> read_number_vi(1005)
    'một nghìn không trăm linh năm'
    """
    _check_range(n)
    if zero_tens not in ("linh", "lẻ") or thousand not in ("nghìn", "ngàn"):
        raise InvalidInput(f"expected linh|lẻ and nghìn|ngàn, got {zero_tens!r}, {thousand!r}")
    if n == 0:
        return VI_DIGITS[0]
    group_words = ("", thousand, "triệu", "tỷ")
    groups = _groups_of_thousand(n)
    words: list[str] = []
    for index in range(len(groups) - 1, -1, -1):
        value = groups[index]
        if value == 0:
            continue
        # Below the leading group an empty hundreds place is spoken: 1005 "không trăm linh năm".
        full = index < len(groups) - 1
        words += _vi_group(value, full=full, zero_tens=zero_tens)
        if group_words[index]:
            words.append(group_words[index])
    return " ".join(words)


def _vi_group(n: int, *, full: bool, zero_tens: ZeroTensWord) -> list[str]:
    hundreds, rest = divmod(n, 100)
    if hundreds == 0 and not full:
        return _vi_below_hundred(rest, after_hundreds=False, zero_tens=zero_tens)
    words = [VI_DIGITS[hundreds], "trăm"]
    if rest:
        words += _vi_below_hundred(rest, after_hundreds=True, zero_tens=zero_tens)
    return words


def _vi_below_hundred(n: int, *, after_hundreds: bool, zero_tens: ZeroTensWord) -> list[str]:
    tens, units = divmod(n, 10)
    if tens == 0:
        return [zero_tens, VI_DIGITS[units]] if after_hundreds else [VI_DIGITS[units]]
    words = ["mười"] if tens == 1 else [VI_DIGITS[tens], "mươi"]
    if units == 1 and tens >= 2:
        words.append("mốt")
    elif units == 5:
        words.append("lăm")
    elif units:
        words.append(VI_DIGITS[units])
    return words


def read_number_en(n: int) -> str:
    """Read a whole number 0 … 999 999 999 999 in English words (British "and", no hyphens).

    >>> read_number_en(1005)
    'one thousand and five'
    """
    _check_range(n)
    if n == 0:
        return EN_DIGITS[0]
    groups = _groups_of_thousand(n)
    words: list[str] = []
    for index in range(len(groups) - 1, -1, -1):
        value = groups[index]
        if value == 0:
            continue
        hundreds, rest = divmod(value, 100)
        if hundreds:
            words += [EN_DIGITS[hundreds], "hundred"]
        if rest:
            # "and" joins tens to a hundred or, in the last group, to larger groups.
            if hundreds or (index == 0 and len(groups) > 1):
                words.append("and")
            words += _en_below_hundred(rest)
        if _EN_GROUPS[index]:
            words.append(_EN_GROUPS[index])
    return " ".join(words)


def _en_below_hundred(n: int) -> list[str]:
    if n < 10:
        return [EN_DIGITS[n]]
    if n < 20:
        return [_EN_TEENS[n - 10]]
    tens, units = divmod(n, 10)
    return [_EN_TENS[tens], EN_DIGITS[units]] if units else [_EN_TENS[tens]]


def _groups_of_thousand(n: int) -> list[int]:
    """Groups of three digits, least significant first: 1234567 → [567, 234, 1]."""
    groups: list[int] = []
    while n:
        n, group = divmod(n, 1000)
        groups.append(group)
    return groups


def _check_range(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_NUMBER:
        raise InvalidInput(
            f"a number to read must be a whole number from 0 to {MAX_NUMBER}, got {n!r}",
            number=n,
        )


def read_number(
    n: int,
    language: Language,
    *,
    zero_tens: ZeroTensWord = "linh",
    thousand: ThousandWord = "nghìn",
) -> str:
    """``read_number_vi`` or ``read_number_en`` (the style words matter in Vietnamese only)."""
    _check_language(language)
    if language == "vi":
        return read_number_vi(n, zero_tens=zero_tens, thousand=thousand)
    return read_number_en(n)


def read_digits(digits: str, language: Language) -> str:
    """Each digit as its own word: ``"023"`` → ``"không, hai, ba"``."""
    _check_language(language)
    if not digits.isascii() or not digits.isdigit():
        raise InvalidInput(f"expected only digits 0-9, got {digits!r}", digits=digits)
    table = VI_DIGITS if language == "vi" else EN_DIGITS
    return _SEPARATOR.join(table[int(d)] for d in digits)


def letter_name(letter: str, language: Language) -> str:
    """How a capital letter is said: ``"B"`` → ``"bê"`` (vi) or ``"B"`` (en)."""
    _check_language(language)
    upper = letter.upper()
    if language == "vi":
        try:
            return VI_LETTER_NAMES[upper]
        except KeyError:
            raise InvalidInput(
                f"no Vietnamese name for the letter {letter!r}; known: {''.join(VI_LETTER_NAMES)}",
                letter=letter,
            ) from None
    if len(upper) != 1 or not "A" <= upper <= "Z":
        raise InvalidInput(f"expected one letter A-Z, got {letter!r}", letter=letter)
    return upper


def read_ticket_number(
    number: str,
    language: Language = "vi",
    reading: Reading = "digits",
    *,
    zero_tens: ZeroTensWord = "linh",
    thousand: ThousandWord = "nghìn",
) -> str:
    """Words for a ticket number such as ``A023``: letters by name, then the digits.

    >>> read_ticket_number("A023", "vi", "number")
    'A, hai mươi ba'

    Letters are written back as capitals in Vietnamese too when their name is the vowel itself
    (``A`` → ``a``) — only the spoken form matters, the display shows the number unchanged.
    """
    _check_language(language)
    if reading not in READINGS:
        raise InvalidInput(f"reading must be one of {', '.join(READINGS)}, got {reading!r}")
    match = _TICKET.match(number.strip().upper())
    if match is None:
        raise InvalidInput(
            f"a ticket number is up to three letters then digits, like A023; got {number!r}",
            reason="ticket_number_malformed", field="number", number=number,
        )
    letters, digits = match.group("letters"), match.group("digits")
    parts = [_letter_for_ticket(letter, language) for letter in letters]
    if reading == "digits":
        parts.append(read_digits(digits, language))
    else:
        parts.append(read_number(int(digits), language, zero_tens=zero_tens, thousand=thousand))
    return _SEPARATOR.join(parts)


def _letter_for_ticket(letter: str, language: Language) -> str:
    name = letter_name(letter, language)
    # "A" reads as the vowel in Vietnamese either way; keep the capital so the text that is
    # shown or logged still looks like the ticket ("A, không, hai, ba").
    return letter if name == letter.lower() else name


def read_counter(
    counter: str,
    language: Language = "vi",
    *,
    zero_tens: ZeroTensWord = "linh",
    thousand: ThousandWord = "nghìn",
) -> str:
    """Words for a counter label: ``"12"`` → ``"mười hai"``, ``"3A"`` → ``"ba a"``."""
    _check_language(language)
    label = counter.strip()
    if not label:
        raise InvalidInput("a counter label must not be empty", counter=counter)
    words: list[str] = []
    for token in label.split():
        if not _CODE_TOKEN.match(token):
            words.append(token)
            continue
        for run in _RUNS.findall(token):
            if run.isdigit():
                words.append(
                    read_number(int(run), language, zero_tens=zero_tens, thousand=thousand)
                )
            else:
                words.append(letter_name(run, language))
    return " ".join(words)


@dataclass(frozen=True)
class Templates:
    """The sentences of one language: ``call`` for a first call, ``recall`` for a repeat call.

    Each must use exactly the fields ``{number}`` and ``{counter}``.
    """

    call: str
    recall: str

    def __post_init__(self) -> None:
        for kind in ("call", "recall"):
            _check_template(kind, getattr(self, kind))


def _check_template(kind: str, template: str) -> None:
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise InvalidInput(f"the {kind} template {template!r} is malformed: {exc}") from None
    if fields != {"number", "counter"}:
        found = ", ".join(sorted(fields)) or "none"
        raise InvalidInput(
            f"the {kind} template must use the fields {{number}} and {{counter}} only; "
            f"{template!r} uses: {found}",
            template=template,
        )


DEFAULT_TEMPLATES: Mapping[str, Templates] = MappingProxyType({
    "vi": Templates(
        call="Mời công dân có số thứ tự {number} đến quầy số {counter}",
        recall="Nhắc lại: mời công dân có số thứ tự {number} đến quầy số {counter}",
    ),
    "en": Templates(
        call="Ticket number {number}, please go to counter {counter}",
        recall="Reminder: ticket number {number}, please go to counter {counter}",
    ),
})  # fmt: skip


def announcement_text(
    number: str,
    counter: str,
    *,
    language: Language = "vi",
    reading: Reading = "digits",
    recall: bool = False,
    templates: Mapping[str, Templates] = DEFAULT_TEMPLATES,
    zero_tens: ZeroTensWord = "linh",
    thousand: ThousandWord = "nghìn",
) -> str:
    """The sentence that calls ticket ``number`` to ``counter`` (one sentence, no repeats)."""
    _check_language(language)
    try:
        chosen = templates[language]
    except KeyError:
        raise InvalidInput(f"no templates for the language {language!r}") from None
    template = chosen.recall if recall else chosen.call
    return template.format(
        number=read_ticket_number(
            number, language, reading, zero_tens=zero_tens, thousand=thousand
        ),
        counter=read_counter(counter, language, zero_tens=zero_tens, thousand=thousand),
    )


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise InvalidInput(
            f"language must be one of {', '.join(LANGUAGES)}, got {language!r}",
            language=language,
        )
