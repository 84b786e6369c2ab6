"""Who is calling: staff, supervisors and the province (signed, expiring tokens), kiosks and
displays (long-lived, revocable device tokens), and citizens (one secret per ticket).

Token forms, all sent as ``Authorization: Bearer …`` (or ``?token=`` on WebSockets, which
browsers cannot give headers):

- ``st.<signed>``: a staff member's login, signed with the server's key, expiring;
- ``dev.<id>.<secret>``: a kiosk, a lobby display or a counter screen (the small display above
  one counter: it may follow its center's public channel and nothing else); the record in
  Redis can be revoked at any time;
- ``tk.<secret>``: a citizen's ticket; only its salted hash is stored, in the ticket.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from queue_server.errors import Forbidden, Unauthenticated


class Role(StrEnum):
    CITIZEN = "citizen"
    KIOSK = "kiosk"
    DISPLAY = "display"
    SCREEN = "screen"  # the counter's own screen
    STAFF = "staff"
    SUPERVISOR = "supervisor"
    PROVINCE = "province"


PEOPLE_ROLES = frozenset({Role.STAFF, Role.SUPERVISOR, Role.PROVINCE})
DEVICE_ROLES = frozenset({Role.KIOSK, Role.DISPLAY, Role.SCREEN})


@dataclass(frozen=True)
class Principal:
    role: Role
    subject: str          # username, device id or ticket id
    center: str | None    # None: the whole province
    expires_at: float | None = None  # epoch seconds, for logins (open sockets close then)
    session: str | None = None       # a login's id (queue_server.sessions): logout revokes it

    def may_act_in(self, center_id: str) -> bool:
        return self.role is Role.PROVINCE or self.center == center_id

    def require(self, center_id: str, *roles: Role) -> None:
        """Refuse unless this caller has one of ``roles`` and belongs to the center."""
        if self.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(f"this needs the role {allowed}; you are {self.role.value}",
                            reason="role_not_allowed", roles=[r.value for r in roles],
                            role=self.role.value)
        if not self.may_act_in(center_id):
            raise Forbidden(f"you belong to center {self.center}, not {center_id}",
                            reason="other_center", center=center_id, own=self.center or "")


class TokenSigner:
    """Signs and checks staff tokens; the key comes from the settings (see Settings.with_secret)."""

    def __init__(self, secret_key: str, max_age_s: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="qms-staff")
        self._key = secret_key.encode()
        self.max_age_s = max_age_s

    def staff_token(self, username: str, role: Role, center: str | None,
                    session: str = "") -> str:
        """A signed login; ``session`` names the login record (queue_server.sessions) that
        must still exist for the token to work, so a login can end before it expires."""
        return "st." + self._serializer.dumps(
            {"u": username, "r": role.value, "c": center, "s": session})

    def read_staff_token(self, token: str) -> Principal:
        try:
            data, signed_at = self._serializer.loads(
                token.removeprefix("st."), max_age=self.max_age_s, return_timestamp=True)
        except SignatureExpired:
            raise Unauthenticated("your login has expired: log in again",
                                  reason="login_expired") from None
        except BadSignature:
            raise Unauthenticated("the login token is not valid", reason="login_invalid") from None
        return Principal(Role(data["r"]), data["u"], data["c"],
                         signed_at.timestamp() + self.max_age_s, data.get("s") or None)

    def secret_hash(self, secret: str, purpose: str) -> str:
        """A salted hash (HMAC with the server key) of a ticket secret or a citizen id."""
        return hmac.new(self._key, f"{purpose}:{secret}".encode(), hashlib.sha256).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a, b)
