"""QR codes as SVG, drawn on the server with the ``qrcode`` package (no script in the page).

Only http(s) links of at most ``MAX_DATA`` characters are encoded, and a booking's check-in
text (``07054-20261205-A001.4821``, what the kiosk's scanner reads back): the endpoint is for
links to this system (a ticket, the booking page) and its check-in codes, not a
general-purpose QR service.
"""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import qrcode
import qrcode.constants
from qrcode.image.svg import SvgPathImage

from queue_server.booking import QR_CODE
from queue_server.errors import InvalidInput

MAX_DATA = 512


def check_link(data: str) -> str:
    if len(data) > MAX_DATA:
        raise InvalidInput(f"a QR link has at most {MAX_DATA} characters, got {len(data)}",
                           reason="qr_link_too_long", field="data", max=MAX_DATA)
    if QR_CODE.fullmatch(data):
        return data   # a booking's check-in code, as the kiosk's scanner reads it
    if not data.isascii() or not data.isprintable() or " " in data:
        raise InvalidInput("a QR link is printable ASCII without spaces (encode it as a URL)",
                           reason="qr_link_malformed", field="data")
    parts = urlsplit(data)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"only http(s) links are encoded, got {data[:40]!r}",
                           reason="qr_link_malformed", field="data")
    return data


def qr_svg(data: str) -> bytes:
    """The SVG of ``data`` (an http(s) link or a check-in code), medium error correction,
    2-module border."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2,
                         image_factory=SvgPathImage)
    code.add_data(check_link(data))
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image().save(out)
    return out.getvalue()
