"""Sending one callback: the auth chain, the retries, the deadline, the answer.

The rules (the Go plugin's, with its faults fixed):

- All attempts of a callback, token requests and pauses included, fit in its
  ``Timeout`` (7200 s by default): each request gets only the time that is left,
  and no pause starts that would end after the deadline.
- A failed attempt (no answer, or a status >= 400) is repeated up to ``Retry``
  times, ``Delay`` seconds apart.
- The auths of the callback (``Auth``, then ``Auths``) are tried in order: when one
  cannot produce credentials, or the callback answers 401/403 with it, the next
  one is tried (with a fresh retry count).  A cached token that is refused is
  dropped and fetched again once before moving on.
- The last error keeps the callback's status code (the action fails with it).
- The answer is read only as far as it is used: a ``callbackDo`` answer up to
  ``CALLBACK_RESPONSE_MAX_BYTES`` (past it the action fails, naming the setting),
  the start of an error answer (quoted in the error), and of an event callback's
  answer, which nobody reads, only a little (:data:`~.transport.SMALL`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from drp_plugin import PluginError

from .errors import clip, fail, text_of
from .settings import RESPONSE_MAX_BYTES, CallbackSpec
from .transport import SMALL, Answer, request

if TYPE_CHECKING:
    import httpx

    from .auth import AuthState


@dataclass
class Outbound:
    """A rendered callback, ready to send."""

    spec: CallbackSpec
    url: str
    payload: bytes | None
    #: For log lines: which machine it is about.
    subject: str = ""


def _headers(spec: CallbackSpec, auth_headers: dict[str, str]) -> dict[str, str]:
    headers = dict(auth_headers)
    headers.update(spec.headers)  # the callback's own headers win, as in the Go plugin
    lower = {k.lower() for k in headers}
    if "content-type" not in lower:
        headers["Content-Type"] = "application/json; charset=utf-8"
    if "accept" not in lower:
        headers["Accept"] = "application/json"
    return headers


def answer_of(spec: CallbackSpec, body: bytes) -> Any:
    """What the action answers: JSON, a string, or (by default) the body in base64."""
    if spec.json_response:
        try:
            return json.loads(body)
        except ValueError:
            raise fail(400, "Callback JSON parse", f"body: {clip(body)}") from None
    if spec.string_response:
        return body.decode("utf-8", errors="replace")
    return base64.b64encode(body).decode("ascii")


def too_large(what: str, answer: Answer, limit: int) -> PluginError:
    """The error of an answer longer than ``CALLBACK_RESPONSE_MAX_BYTES``."""
    announced = answer.announced
    # (an announced length is that of the encoded answer: trusted only when it is over)
    size = f"{announced} bytes" if announced is not None and announced > limit \
        else f"more than {limit} bytes"
    return fail(400, f"Answer of {what} is too large: {size}, over {RESPONSE_MAX_BYTES}"
                     f" ({limit} bytes); it was not read further")


async def send(client: httpx.AsyncClient, out: Outbound, chain: list[AuthState],
               log: logging.Logger | logging.LoggerAdapter[logging.Logger], *,
               max_response: int, want_answer: bool = True) -> Any:
    """Send ``out`` with the auths of ``chain``; its answer per the response flags.

    ``want_answer`` (``callbackDo``): the answer is read, up to ``max_response``
    bytes (more fails with 400 naming ``CALLBACK_RESPONSE_MAX_BYTES``), and returned.
    Otherwise (event callbacks) it is not used: at most its first
    :data:`~.transport.SMALL` bytes are read (a short answer thus frees the
    connection for the next request), and ``None`` is returned.
    """
    import httpx

    spec = out.spec
    what = f"callback {spec.name}" + (f" for {out.subject}" if out.subject else "")
    notes: list[str] = []
    last_status: int | None = None
    index = 0        # the auth in use
    tries = 0        # attempts with that auth
    pause = False    # wait Delay before the next attempt
    attempts = 0     # requests sent, all auths together
    started = time.monotonic()
    deadline = started + spec.timeout   # from the first attempt on, as in the Go plugin

    def budget(status: int) -> int:
        return max_response if want_answer and status < 400 else SMALL

    def note(text: str) -> None:
        notes.append(text)
        del notes[:-20]

    def timeout() -> PluginError:
        spent = time.monotonic() - started
        return fail(last_status or 400,
                    f"Timeout of {what} after {spent:.1f}s (Timeout {spec.timeout}s)", *notes[-5:])

    while True:
        if pause and spec.delay > 0:
            if time.monotonic() + spec.delay >= deadline:
                raise timeout()
            await asyncio.sleep(spec.delay)
        pause = True
        if time.monotonic() >= deadline:
            raise timeout()
        auth = chain[index] if index < len(chain) else None
        auth_headers: dict[str, str] = {}
        fresh = True
        if auth is not None:
            try:
                auth_headers, fresh = await auth.headers(client, deadline)
            except PluginError as exc:
                note(f"auth {auth.name} failed: {clip(text_of(exc))}")
                log.warning("%s: auth %s failed: %s", what, auth.name, clip(text_of(exc), 300))
                index += 1
                if index < len(chain):
                    tries, pause = 0, False
                    continue
                raise fail(400, f"Failed to get auths for {what}", *notes) from None
        tries += 1
        attempts += 1
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise timeout()
        try:
            resp = await request(client, spec.method, out.url, remaining, budget,
                                 content=out.payload, headers=_headers(spec, auth_headers))
        except httpx.HTTPError as exc:
            note(f"attempt {attempts}: {type(exc).__name__}: {exc}")
            if tries <= spec.retry:
                continue
            if time.monotonic() >= deadline:
                raise timeout() from None
            raise fail(400, f"Failed to call back: {what}", *notes[-5:]) from None
        status = resp.status
        if status < 400:
            log.info("%s: %s %d after %d attempt(s)", what, spec.method, status, attempts)
            if not want_answer:
                return None
            if not resp.complete:
                raise too_large(what, resp, max_response)
            return answer_of(spec, resp.body)
        last_status = status
        note(f"attempt {attempts}: {status} {resp.excerpt(200)}".rstrip())
        if status in (401, 403) and auth is not None:
            auth.invalidate()
            if not fresh:
                # A cached token may have expired early: get a new one, right away.
                tries -= 1
                pause = False
                continue
            if index + 1 < len(chain):
                log.info("%s: auth %s refused (%d), trying auth %s", what, auth.name, status,
                         chain[index + 1].name)
                index, tries, pause = index + 1, 0, False
                continue
        if tries <= spec.retry:
            continue
        raise fail(status, f"Callback API returned {status}: {what}", *notes[-5:])
