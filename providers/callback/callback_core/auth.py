"""Authentication of callback requests: basic, ``json-token`` and ``exec``.

Each auth of ``callback/auths`` gets one :class:`AuthState`, which lives as long as
the config: ``json-token`` tokens are reused for three quarters of their lifetime,
``exec`` tokens for 45 minutes (three quarters of an hour).  A lock per auth makes
concurrent callbacks wait for one token request instead of sending several.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import TYPE_CHECKING, Any

from .errors import clip, fail
from .settings import DEFAULT_RESPONSE_MAX_BYTES, RESPONSE_MAX_BYTES, AuthSpec
from .transport import SMALL, request

if TYPE_CHECKING:
    import httpx

#: Lifetime of an exec token, and of a json-token without ``DurationField`` (seconds).
DEFAULT_LIFETIME = 3600.0
#: Part of a token's lifetime during which it is reused.
REUSE_FRACTION = 0.75
#: Longest run of a program used by ``GetAuthString`` outside of a callback.
PROGRAM_TIMEOUT = 300.0


def bearer(token: str) -> dict[str, str]:
    # The Go plugin sends the token in both headers; some receivers read the odd one.
    return {"Authorization": f"Bearer {token}", "Authentication": f"Bearer {token}"}


def basic(username: str, password: str) -> dict[str, str]:
    raw = f"{username}:{password}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}


class AuthState:
    """One auth method and its cached token."""

    def __init__(self, spec: AuthSpec, max_response: int = DEFAULT_RESPONSE_MAX_BYTES) -> None:
        self.spec = spec
        #: Bytes read at most of a token request's answer.
        self.max_response = max_response
        self._token: str | None = None
        self._reuse_until = 0.0
        self._lock: asyncio.Lock | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def invalidate(self) -> None:
        """Forget the cached token (the server refused it)."""
        self._token = None

    async def headers(self, client: httpx.AsyncClient, deadline: float) -> tuple[dict[str, str], bool]:
        """``(headers, fresh)``: the auth headers, and whether they were just obtained."""
        spec = self.spec
        if spec.auth_type == "basic":
            return basic(spec.username, spec.password), True
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._token is not None and time.monotonic() < self._reuse_until:
                return bearer(self._token), False
            self._token = None
            if spec.auth_type == "json-token":
                token, lifetime = await fetch_json_token(client, spec, deadline,
                                                         self.max_response)
            else:
                token, lifetime = await run_program(spec.path, deadline), DEFAULT_LIFETIME
            self._token = token
            self._reuse_until = time.monotonic() + max(lifetime, 0.0) * REUSE_FRACTION
            return bearer(token), True


async def _pause(delay: int, deadline: float, what: str) -> None:
    if delay > 0:
        if time.monotonic() + delay >= deadline:
            raise fail(400, f"Timeout of {what}: no time left for another attempt")
        await asyncio.sleep(delay)


async def fetch_json_token(client: httpx.AsyncClient, spec: AuthSpec, outer_deadline: float,
                           max_response: int = DEFAULT_RESPONSE_MAX_BYTES) -> tuple[str, float]:
    """``(token, lifetime seconds)`` from the auth's token endpoint, with its retries.

    Its answer is read up to ``max_response`` bytes (a longer one is a failed
    attempt naming ``CALLBACK_RESPONSE_MAX_BYTES``); an error answer is not used.
    """
    import httpx

    def budget(status: int) -> int:
        return max_response if status < 400 else SMALL

    deadline = min(time.monotonic() + spec.timeout, outer_deadline)
    what = f"auth {spec.name} token request"
    url = httpx.URL(spec.url)
    if spec.query:
        url = url.copy_with(query=spec.query.encode())
    content = spec.data.encode() if spec.data else None
    attempt = 0
    while True:
        if attempt:
            await _pause(spec.delay, deadline, what)
        attempt += 1
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise fail(400, f"Timeout of {what}")
        may_retry = attempt <= spec.retry
        try:
            resp = await request(client, spec.method, url, remaining, budget, content=content)
        except httpx.HTTPError as exc:
            if may_retry:
                continue
            raise fail(400, f"Failed to get a token from {what}", f"{type(exc).__name__}: {exc}") from None
        problem: str
        code = 400
        if resp.status >= 400:
            problem, code = f"Auth API returned {resp.status}", resp.status
        elif not resp.complete:
            problem = (f"Auth API answer is too large: over {RESPONSE_MAX_BYTES} "
                       f"({max_response} bytes); it was not read further")
        else:
            try:
                data: Any = json.loads(resp.body)
            except ValueError:
                data = None
            if not isinstance(data, dict):
                problem = f"Auth API answer is not a JSON object: {clip(resp.body)}"
            elif not isinstance(data.get(spec.token_field), str):
                problem = (f"Auth API answer has no string field {spec.token_field!r}"
                           if spec.token_field not in data
                           else f"Auth API answer field {spec.token_field!r} is not a string")
            else:
                lifetime: Any = DEFAULT_LIFETIME
                if spec.duration_field and spec.duration_field in data:
                    lifetime = data[spec.duration_field]
                if isinstance(lifetime, bool) or not isinstance(lifetime, int | float):
                    problem = f"Auth API answer field {spec.duration_field!r} is not a number"
                else:
                    return data[spec.token_field], float(lifetime)
        if may_retry:
            continue
        raise fail(code, problem)


async def run_program(path: str, deadline: float | None = None) -> str:
    """What the program at ``path`` prints on stdout, stripped (its stderr goes to errors)."""
    if deadline is None:
        deadline = time.monotonic() + PROGRAM_TIMEOUT
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise fail(400, f"Failed to execute: {path}", "no time left")
    try:
        proc = await asyncio.create_subprocess_exec(
            path, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise fail(400, f"Failed to execute: {path}", str(exc)) from None
    try:
        out, err = await asyncio.wait_for(proc.communicate(), remaining)
    except BaseException as exc:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if isinstance(exc, TimeoutError):
            raise fail(400, f"Failed to execute: {path}",
                       f"no answer within {remaining:.0f}s") from None
        raise
    if proc.returncode != 0:
        raise fail(400, f"Failed to execute: {path}", f"exit status {proc.returncode}",
                   clip(err or out))
    token = out.decode("utf-8", errors="replace").strip()
    if not token:
        raise fail(400, f"Failed to execute: {path}", "it printed nothing on stdout")
    return token
