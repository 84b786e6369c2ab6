"""Before the drive: everything the server must allow, asked without changing anything; then
the accounts, devices and logins the drive needs; after it, what it opened is closed again.

Refusals come before the first write (:class:`Refused`, one sentence, exit code 2): the server
cannot be reached or is not ready, serves another province's services, has no such province
account, does not know a center, holds a counter the drive needs or tickets from before, or
refuses tickets now because the centers are closed. Staff accounts the drive creates
(``sim-<center>-<counter>``) are kept and reused by the next drive; devices are revoked and
counters closed at the end, whatever happened.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from queue_server.province import Center, Province
from queue_server.rules.clock import TIMEZONE
from simulations.live import booking
from simulations.live.backend import Credentials
from simulations.live.client import Api, ServerRefused, Unreachable
from simulations.live.sockets import ws_base
from simulations.opening import opening_intervals
from simulations.roster import Desk


class Refused(Exception):
    """The server, as it is, cannot take this drive; ``str`` is the one sentence to print."""


async def _get(api: Api, path: str, token: str | None = None) -> Any:
    try:
        return await api.call("GET", path, token=token)
    except Unreachable as error:
        raise Refused(f"cannot reach a queue server at {api.base_url}: {error}") from None
    except ServerRefused as refusal:
        raise Refused(f"the server at {api.base_url} refused {refusal}") from None


async def preflight(api: Api, province: Province, centers: Sequence[Center],
                    desks: dict[str, list[Desk]], user: str, password: str,
                    wall_span: tuple[dt.datetime, dt.datetime]) -> tuple[dict[str, Any], str]:
    """The server's client config and a province token, or :class:`Refused`."""
    await _get(api, "/health/ready")
    config = await _get(api, "/api/v1/config")
    served = {s["id"] for s in (await _get(api, "/api/v1/services"))["services"]}
    if served != set(province.service_ids):
        raise Refused(f"the server at {api.base_url} serves {sorted(served)}, not the services "
                      f"of {province.source}: pass its province file with --province")
    try:
        login = await api.call("POST", "/api/v1/auth/login",
                               body={"username": user, "password": password})
    except ServerRefused:
        raise Refused(f"the server at {api.base_url} has no account {user!r} with that "
                      "password: start it with `python -m qms run --bootstrap`, or "
                      "create one (python -m qms create-account NAME --role province "
                      "--name …) and pass --user/--password") from None
    if login["role"] != "province":
        raise Refused(f"account {user!r} is a {login['role']}; the drive needs a province "
                      "account (it creates staff and devices in every center it drives)")
    token = str(login["token"])
    for center in centers:
        snapshot = await _get(api, f"/api/v1/centers/{center.id}/live?tickets=0", token)
        _check_quiet(center, snapshot, desks[center.id])
    await _check_hours(api, province, centers, wall_span)
    return config, token


async def replica_channels(urls: Sequence[str]) -> list[str]:
    """The channels' address of each replica the drive is given, asked of each (its own
    readiness and ``/api/v1/config``: replicas have WebSocket ports of their own)."""
    channels = []
    for url in urls:
        one = Api(url)
        try:
            await _get(one, "/health/ready")
            channels.append(ws_base(await _get(one, "/api/v1/config"), url))
        finally:
            await one.aclose()
    return channels


def _check_quiet(center: Center, snapshot: dict[str, Any], desks: list[Desk]) -> None:
    counters = {c["id"]: c for c in snapshot["counters"]}
    for desk in desks:
        counter = counters.get(desk.id)
        if counter is None:
            raise Refused(f"the server has no counter {desk.id} at {center.display_name} "
                          f"({center.id}): the roster asks for more counters than it has")
        if counter["state"] != "closed":
            raise Refused(f"counter {desk.id} of {center.display_name} ({center.id}) is "
                          f"{counter['state']} (held by {counter['staff'] or 'nobody'}): the "
                          "drive needs it closed; close it or pick other centers (--center)")
    totals = snapshot.get("totals", {})
    held = sum(int(totals.get(k, 0)) for k in ("waiting", "called", "serving"))
    if held:
        raise Refused(f"{center.display_name} ({center.id}) has {held} tickets from before "
                      "(waiting, called or serving): drive a quiet center (--center)")


async def _check_hours(api: Api, province: Province, centers: Sequence[Center],
                       span: tuple[dt.datetime, dt.datetime]) -> None:
    start, end = span
    for center in centers:
        moment, closed_at = start, None
        while moment <= end:
            minute = moment.hour * 60 + moment.minute
            if not any(a <= minute < b for a, b in opening_intervals(province, center,
                                                                     moment.date())):
                closed_at = moment
                break
            moment += dt.timedelta(minutes=1)
        if closed_at is None:
            continue
        probe_at = (dt.datetime.now(TIMEZONE) + dt.timedelta(days=1)).replace(
            hour=3, minute=0, second=0, microsecond=0)
        service = center.counters[0].services[0]
        if await booking.hours_enforced(api, center.id, service, probe_at):
            raise Refused(f"the server refuses tickets outside opening hours and "
                          f"{center.display_name} ({center.id}) is closed at "
                          f"{closed_at:%H:%M} during this drive: start the server with "
                          "QMS_ENFORCE_HOURS=0 to drive a day at another hour")
        return  # the server does not enforce hours: nothing more to ask


async def set_up(api: Api, credentials: Credentials, centers: Sequence[Center],
                 desks: dict[str, list[Desk]], staff_password: str, label: str) -> None:
    """Staff accounts and their logins, then a kiosk and a display per center, into
    ``credentials`` as they are made (so :func:`tear_down` undoes a set-up cut short)."""
    province_token = credentials.province
    for center in centers:
        for desk in desks[center.id]:
            username = f"sim-{center.id}-{desk.id}".lower()
            try:
                await api.call("POST", "/api/v1/staff", token=province_token, body={
                    "username": username, "password": staff_password, "role": "staff",
                    "name": f"Cán bộ mô phỏng {desk.id}", "center": center.id})
            except ServerRefused as refusal:
                if refusal.status != 409:
                    raise Refused(f"the server refused to create staff {username}: "
                                  f"{refusal.detail}") from None
            try:
                login = await api.call("POST", "/api/v1/auth/login",
                                       body={"username": username, "password": staff_password})
            except ServerRefused:
                raise Refused(f"staff account {username} exists with another password: pass "
                              "the one it was made with (--staff-password)") from None
            credentials.staff[username] = str(login["token"])
    for center in centers:
        for kind, store in (("kiosk", credentials.kiosk), ("display", credentials.display)):
            device = await api.call("POST", "/api/v1/devices", token=province_token, body={
                "kind": kind, "center": center.id, "label": label})
            store[center.id] = str(device["token"])
            credentials.devices.append((str(device["id"]), center.id))


async def tear_down(api: Api, credentials: Credentials, centers: Sequence[Center],
                    desks: dict[str, list[Desk]]) -> list[str]:
    """Close what the drive left open and revoke its devices; what could not be undone."""
    problems: list[str] = []
    for center in centers:
        for desk in desks[center.id]:
            token = credentials.staff.get(f"sim-{center.id}-{desk.id}".lower())
            if token is None:
                continue
            try:
                await api.call("POST", f"/api/v1/centers/{center.id}/counters/{desk.id}/close",
                               token=token)
            except ServerRefused as refusal:
                if refusal.status != 409:  # 409: closed already, as it should be
                    problems.append(f"closing counter {desk.id} of {center.id}: {refusal}")
            except Unreachable as error:
                problems.append(str(error))
    for device_id, center_id in credentials.devices:
        try:
            await api.call("DELETE", f"/api/v1/devices/{device_id}?center={center_id}",
                           token=credentials.province)
        except (ServerRefused, Unreachable) as error:
            problems.append(f"revoking device {device_id}: {error}")
    return problems
