"""Accounts after their creation: logout, password change, the account list, deactivation and
ending someone's logins (queue_server.sessions says how an ended login stops everywhere).

Who may manage whom: the province any account but their own; a supervisor the staff
accounts of their own center. The list: a supervisor sees their center's accounts, the
province every account (or one center's).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from queue_server.accounts import MIN_PASSWORD, Account
from queue_server.api.deps import PrincipalDep, ServicesDep, client_address
from queue_server.api.schemas import Body
from queue_server.auth import Principal, Role
from queue_server.errors import Conflict, Forbidden, NotFound
from queue_server.services import Services

router = APIRouter(prefix="/api/v1", tags=["accounts"])
Username = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_.-]+$")]


class PasswordIn(Body):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=MIN_PASSWORD, max_length=256)


class AccountOut(BaseModel):
    username: str
    name: str
    role: str
    center: str | None
    active: bool

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        return cls(username=account.username, name=account.name, role=account.role.value,
                   center=account.center, active=account.active)


def _login_of(principal: Principal) -> Principal:
    if principal.role not in (Role.STAFF, Role.SUPERVISOR, Role.PROVINCE):
        raise Forbidden("only a staff login can do this, not a device",
                        reason="staff_login_only")
    return principal


async def _managed(services: Services, principal: Principal, username: str) -> Account:
    """The account ``username`` if the caller may manage it (see the module docstring)."""
    if principal.role not in (Role.SUPERVISOR, Role.PROVINCE):
        raise Forbidden("only supervisors and the province manage accounts",
                        reason="accounts_managed_by_supervisor")
    account = await services.accounts.account(username)
    if account is None:
        raise NotFound(f"no account {username!r}", reason="account_unknown", field="username",
                       username=username)
    if account.username == principal.subject:
        raise Conflict("you cannot do this to your own account: ask another manager",
                       reason="own_account")
    if principal.role is Role.SUPERVISOR and (
            account.role is not Role.STAFF or account.center != principal.center):
        raise Forbidden("a supervisor manages the staff accounts of their own center only",
                        reason="supervisor_own_center_accounts")
    return account


@router.post("/auth/logout", status_code=204, summary="End this login (its token stops working)")
async def logout(services: ServicesDep, principal: PrincipalDep) -> Response:
    login = _login_of(principal)
    if login.session:
        await services.accounts.sessions.close(login.subject, login.session)
    return Response(status_code=204)


@router.post("/auth/password", status_code=204,
             summary="Change your own password (your other logins end)")
async def change_password(body: PasswordIn, request: Request, services: ServicesDep,
                          principal: PrincipalDep) -> Response:
    await services.accounts.change_password(_login_of(principal), body.current_password,
                                            body.new_password, client_address(request))
    return Response(status_code=204)


@router.get("/staff", response_model=list[AccountOut],
            summary="Accounts: a supervisor's center, or the province's (any center)")
async def list_accounts(
    services: ServicesDep, principal: PrincipalDep,
    center: Annotated[str | None, Query(max_length=16, description="one center only")] = None,
) -> list[AccountOut]:
    if principal.role is Role.SUPERVISOR:
        if center not in (None, principal.center):
            raise Forbidden(f"you belong to center {principal.center}, not {center}",
                            reason="other_center", own=principal.center, center=center)
        center = principal.center
    elif principal.role is not Role.PROVINCE:
        raise Forbidden("only supervisors and the province list accounts",
                        reason="accounts_listed_by_supervisor")
    if center is not None:
        services.province.center(center)
    return [AccountOut.of(a) for a in await services.accounts.accounts(center)]


@router.post("/staff/{username}/deactivate", response_model=AccountOut,
             summary="Deactivate an account: its logins end, it cannot log in")
async def deactivate(username: Username, services: ServicesDep,
                     principal: PrincipalDep) -> AccountOut:
    account = await _managed(services, principal, username)
    return AccountOut.of(await services.accounts.set_active(account.username, False))


@router.post("/staff/{username}/activate", response_model=AccountOut,
             summary="Reactivate an account (it logs in again with its password)")
async def activate(username: Username, services: ServicesDep,
                   principal: PrincipalDep) -> AccountOut:
    account = await _managed(services, principal, username)
    return AccountOut.of(await services.accounts.set_active(account.username, True))


@router.delete("/staff/{username}/logins", status_code=204,
               summary="End every login of an account (a lost or shared token)")
async def revoke_logins(username: Username, services: ServicesDep,
                        principal: PrincipalDep) -> Response:
    account = await _managed(services, principal, username)
    await services.accounts.sessions.close_all(account.username)
    return Response(status_code=204)
