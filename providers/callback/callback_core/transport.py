"""One outgoing HTTP request, bounded in total time and in the bytes of its answer read.

The answer is streamed, never read whole: the caller says, by status, how many
bytes of it are worth reading (:data:`Budget`), and reading stops there.  A
callback answer returned to DRP is read up to ``CALLBACK_RESPONSE_MAX_BYTES``, an
error answer only for its first bytes (quoted in the error), an answer nobody
uses only for :data:`SMALL` bytes (so that a short one is read to its end and the
connection can be reused).  Redirects are followed here rather than by httpx,
which would read each redirect answer whole.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import fail

if TYPE_CHECKING:
    import httpx

#: Bytes read of an answer whose content is not needed whole: an error answer
#: (its start is quoted), an event callback's answer, a redirect's answer.
SMALL = 64 * 1024

#: How many bytes of an answer with this status to read.
Budget = Callable[[int], int]


@dataclass
class Answer:
    """What was read of a response."""

    status: int
    #: The answer, or its first bytes when ``complete`` is false.
    body: bytes
    #: ``body`` is the whole answer (false: reading stopped at the budget).
    complete: bool
    #: The ``Content-Length`` the server announced (``None``: none, or not a number).
    announced: int | None = None

    def excerpt(self, limit: int = 300) -> str:
        """The answer shortened for an error message or a log line."""
        text = self.body.decode("utf-8", errors="replace").strip()
        if self.complete and len(text) <= limit:
            return text
        if self.complete:
            return text[:limit] + f"... ({len(text)} chars)"
        size = f"{self.announced} bytes" \
            if self.announced is not None and self.announced > len(self.body) \
            else f"more than {len(self.body)} bytes"
        return text[:limit] + f"... ({size}, not read further)"


def _announced(response: httpx.Response) -> int | None:
    raw = response.headers.get("Content-Length", "")
    return int(raw) if raw.isdigit() else None


async def _read(response: httpx.Response, budget: int) -> tuple[bytes, bool]:
    """At most ``budget`` bytes of ``response`` (decoded); whether that is all of it."""
    if budget <= 0:
        return b"", False
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        if size + len(chunk) > budget:
            chunks.append(chunk[:budget - size])
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), True


async def request(client: httpx.AsyncClient, method: str, url: str | httpx.URL,
                  remaining: float, budget: Budget, **kwargs: Any) -> Answer:
    """Send a request, follow its redirects, read at most ``budget(status)`` bytes of
    the final answer; all of it in at most ``remaining`` seconds.

    httpx's timeouts bound each phase (connect, each read...), not the whole
    exchange: a receiver that trickles its answer could outlast them.  Running out
    of time raises :class:`httpx.TimeoutException` like httpx's own timeouts; a
    request that cannot be built (bad URL, header that is not ASCII) raises a 400
    :class:`~drp_plugin.PluginError`, since repeating it cannot help.  A budget of
    ``n`` reads ``n + 1`` bytes at most, so that an answer of exactly ``n`` bytes is
    known to be complete.
    """
    import httpx

    try:
        async with asyncio.timeout(remaining):
            req = client.build_request(method, url, timeout=httpx.Timeout(remaining), **kwargs)
            for _ in range(client.max_redirects + 1):
                response = await client.send(req, stream=True, follow_redirects=False)
                try:
                    if response.next_request is None:
                        want = budget(response.status_code)
                        body, complete = await _read(response, want + 1 if want > 0 else 0)
                        if len(body) > want:
                            body, complete = body[:want], False
                        return Answer(response.status_code, body, complete,
                                      _announced(response))
                    await _read(response, SMALL)     # a redirect's answer is not used
                finally:
                    await response.aclose()
                req = response.next_request
            raise httpx.TooManyRedirects(
                f"more than {client.max_redirects} redirects", request=req)
    except TimeoutError:
        raise httpx.TimeoutException(f"no complete answer within {remaining:.1f}s") from None
    except (httpx.InvalidURL, ValueError) as exc:
        raise fail(400, f"cannot send {method} {str(url)[:200]}: {type(exc).__name__}: {exc}") from None
