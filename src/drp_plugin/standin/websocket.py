"""The event stream ``/api/v3/ws``: ``register``/``deregister`` frames, JSON events out
(only those the connection's token claims allow: see :mod:`.eventhub`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from .auth import Auth
from .eventhub import EventHub, Subscriber

log = logging.getLogger(__name__)


def make_handler(
    hub: EventHub, auth: Auth
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler of ``GET /api/v3/ws``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        principal = auth.authenticate(request)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sub: Subscriber

        async def close() -> bool:
            if sub.overflowed:  # too far behind: 1008, the client sees a gap and reconnects
                return await ws.close(code=1008, message=b"event queue limit reached")
            return await ws.close(code=1001)

        # events are filtered by the token's claims, as DRP's websocket does
        sub = hub.subscribe(ws.send_str, close, principal.user, principal.claims)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                verb, _, pattern = msg.data.strip().partition(" ")
                pattern = pattern.strip()
                if verb == "register" and pattern:
                    sub.register(pattern)
                    sub.acknowledge("register", pattern)
                elif verb == "deregister" and pattern:
                    sub.filters.pop(pattern, None)
                    sub.acknowledge("deregister", pattern)
                else:
                    log.warning("event stream: ignored frame %r", msg.data[:200])
        finally:
            hub.subscribers.discard(sub)
            await sub.stop()
        return ws

    return handle
