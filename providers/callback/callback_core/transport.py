"""One outgoing HTTP request, bounded in total time."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .errors import fail

if TYPE_CHECKING:
    import httpx


async def request(client: httpx.AsyncClient, method: str, url: str | httpx.URL,
                  remaining: float, **kwargs: Any) -> httpx.Response:
    """``client.request`` that takes at most ``remaining`` seconds in all.

    httpx's timeouts bound each phase (connect, each read...), not the whole
    exchange: a receiver that trickles its answer could outlast them.  Running out
    of time raises :class:`httpx.TimeoutException` like httpx's own timeouts; a
    request that cannot be built (bad URL, header that is not ASCII) raises a 400
    :class:`~drp_plugin.PluginError`, since repeating it cannot help.
    """
    import httpx

    try:
        async with asyncio.timeout(remaining):
            return await client.request(method, url, timeout=httpx.Timeout(remaining), **kwargs)
    except TimeoutError:
        raise httpx.TimeoutException(f"no complete answer within {remaining:.1f}s") from None
    except (httpx.InvalidURL, ValueError) as exc:
        raise fail(400, f"cannot send {method} {str(url)[:200]}: {type(exc).__name__}: {exc}") from None
