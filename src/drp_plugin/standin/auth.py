"""Users and bearer tokens of the stand-in.

Requests authenticate with ``Authorization: Bearer <token>``, ``Basic`` user and
password, or ``?token=``.  No credentials or an unknown token: 401; an expired
token: 403.  Tokens are opaque random strings, never logged.  ``readonly`` tokens
(handed to ``define``) may only read.
"""

from __future__ import annotations

import base64
import binascii
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

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
        self._grants: dict[str, _Grant] = {}
        self.token = self.issue(self.superuser, token_ttl)

    def issue(self, user: str, ttl: float | None, readonly: bool = False,
              claims: tuple[Claim, ...] = EVERYTHING) -> str:
        """A new token for ``user`` valid ``ttl`` seconds (``None``: forever), allowed
        ``claims``.  A ``ttl`` that is not a finite number above 0 is a ``ValueError``:
        ``nan`` or ``inf`` would make a token that never expires."""
        if ttl is not None and not (math.isfinite(ttl) and ttl > 0):
            raise ValueError(f"a token's ttl must be a finite number of seconds above 0, "
                             f"not {ttl!r}")
        token = secrets.token_urlsafe(32)
        expires = self.clock() + ttl if ttl is not None else None
        self._grants[token] = _Grant(Principal(user, readonly, claims), expires)
        return token

    def forget(self, user: str) -> None:
        """Remove ``user`` and every token issued to it."""
        self.users.pop(user, None)
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
        """A principal with every claim for ``user`` and ``password``; ``PluginError`` 401
        when they do not match (a user without a password yet never logs in)."""
        known = self.users.get(user)
        if not known or not secrets.compare_digest(known, password):  # "": no password yet
            raise _unauthorized("Invalid username or password")
        return Principal(user)

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
