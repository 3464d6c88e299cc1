"""Users and bearer tokens of the stand-in.

Requests authenticate with ``Authorization: Bearer <token>``, ``Basic`` user and
password, or ``?token=``.  No credentials or an unknown token: 401; an expired
token: 403.  Tokens are opaque random strings, never logged.  ``readonly`` tokens
(handed to ``define``) may only read.

Each user holds ``Roles`` (names of ``roles`` objects, ``models.User``): the first
user the stand-in starts with holds ``superuser``; the other ones, and a user made by
``POST /users``, hold none (``User.Fill``) until given some.  A password login, and a
token issued without explicit claims, carry the claims of the user's roles
(``from_roles``): as DRP recorded for such users (cli/test-data/output/TestAuth,
TestUserCli), a list outside those claims answers ``[]`` and a read ``Not Found``; a
token with explicit claims is refused with 403.
"""

from __future__ import annotations

import base64
import binascii
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..errors import PluginError
from .claims import EVERYTHING, Claim

DEFAULT_TTL = 3600.0


@dataclass(frozen=True)
class Principal:
    """Who made a request."""

    user: str
    readonly: bool = False
    #: What the token may do (``models.Claim`` list); a password login may do everything.
    claims: tuple[Claim, ...] = EVERYTHING
    #: The claims are those of the user's roles (a password login, or a token issued
    #: without explicit claims): what they do not allow is hidden rather than refused.
    from_roles: bool = False


@dataclass(frozen=True)
class _Grant:
    principal: Principal
    expires: float | None


def _unauthorized(message: str) -> PluginError:
    return PluginError(message, code=401, type="AUTH")


class Auth:
    """Users (name -> password) and the tokens issued to them."""

    def __init__(self, users: dict[str, str], token_ttl: float | None) -> None:
        #: The clock of token expiry (seconds); tests may move it forward.
        self.clock: Callable[[], float] = time.monotonic
        self.users = dict(users)
        self.token_ttl = token_ttl
        self.superuser = next(iter(self.users), "rocketskates")
        #: ``Roles`` of each user (``models.User``): the first configured user holds
        #: ``superuser``, the others none until given roles.
        self.roles: dict[str, list[str]] = {name: [] for name in self.users}
        self.roles[self.superuser] = ["superuser"]
        #: ``Description`` and ``Meta`` of each user that has them.
        self.details: dict[str, dict[str, Any]] = {}
        #: The claims of a list of role names (the stand-in wires it to its ``roles``
        #: objects; alone, ``superuser`` is everything and any other role nothing).
        self.claims_of_roles: Callable[[list[str]], tuple[Claim, ...]] = \
            lambda names: EVERYTHING if "superuser" in names else ()
        self._grants: dict[str, _Grant] = {}
        self.token = self.issue(self.superuser, token_ttl)

    def issue(self, user: str, ttl: float | None, readonly: bool = False,
              claims: tuple[Claim, ...] = EVERYTHING, from_roles: bool = False) -> str:
        """A new token for ``user`` valid ``ttl`` seconds (``None``: forever), allowed
        ``claims``.  A ``ttl`` that is not a finite number above 0 is a ``ValueError``:
        ``nan`` or ``inf`` would make a token that never expires."""
        if ttl is not None and not (math.isfinite(ttl) and ttl > 0):
            raise ValueError(f"a token's ttl must be a finite number of seconds above 0, "
                             f"not {ttl!r}")
        token = secrets.token_urlsafe(32)
        expires = self.clock() + ttl if ttl is not None else None
        self._grants[token] = _Grant(Principal(user, readonly, claims, from_roles), expires)
        return token

    def add(self, user: str, password: str, roles: list[str] | None = None) -> None:
        """A new user (``password`` "" : none yet) holding ``roles``."""
        self.users[user] = password
        self.roles[user] = list(roles or [])

    def user_claims(self, user: str) -> tuple[Claim, ...]:
        """The claims of ``user``'s roles (:data:`EVERYTHING` for a superuser)."""
        return self.claims_of_roles(self.roles.get(user, []))

    def forget(self, user: str) -> None:
        """Remove ``user`` and every token issued to it."""
        self.users.pop(user, None)
        self.roles.pop(user, None)
        self.details.pop(user, None)
        self._grants = {t: g for t, g in self._grants.items() if g.principal.user != user}

    def check_token(self, token: str) -> Principal:
        """The principal ``token`` was issued to; ``PluginError`` 401 for an unknown token,
        403 for an expired one."""
        grant = self._grants.get(token)
        if grant is None:
            raise _unauthorized("Invalid token")
        if grant.expires is not None and self.clock() >= grant.expires:
            raise PluginError("Token expired", code=403, type="AUTH")
        return grant.principal

    def check_password(self, user: str, password: str) -> Principal:
        """The principal of ``user`` and ``password``, with the claims of its roles;
        ``PluginError`` 401 when they do not match (a user without a password yet never
        logs in)."""
        known = self.users.get(user)
        if not known or not secrets.compare_digest(known, password):  # "": no password yet
            raise _unauthorized("Invalid username or password")
        return Principal(user, claims=self.user_claims(user), from_roles=True)

    def authenticate(self, request: web.Request) -> Principal:
        """The principal of ``request``; raises 401/403 ``PluginError``."""
        scheme, _, cred = request.headers.get("Authorization", "").partition(" ")
        cred = cred.strip()
        if scheme.lower() == "bearer" and cred:
            return self.check_token(cred)
        if scheme.lower() == "basic" and cred:
            try:
                user, _, password = base64.b64decode(cred).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise _unauthorized("Malformed basic credentials") from None
            return self.check_password(user, password)
        token = request.query.get("token")
        if token:
            return self.check_token(token)
        raise _unauthorized("Unauthorized")
