"""A scripted DRP event-stream endpoint (real aiohttp websockets) for wire-level tests.

Unlike the stand-in it does no matching: the test decides what is sent, which lets
it check the client's own filtering, acknowledgement waits, backpressure and
reconnection at precise moments.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import WSMsgType, web


class ScriptedEvents:
    """``/api/v3/ws``: records frames and headers, acknowledges (while ``ack``), sends on demand."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.authorizations: list[str] = []
        self.connections: list[web.WebSocketResponse] = []
        self.ack = True
        self.refuse = False
        self.close_at_once = False  # accept the websocket, then close it at once
        self.connected = asyncio.Event()
        self.registered = asyncio.Condition()
        self.app = web.Application()
        self.app.router.add_get("/api/v3/ws", self._handle)

    @property
    def current(self) -> web.WebSocketResponse:
        return self.connections[-1]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self.refuse:
            return web.json_response({"Code": 503, "Messages": ["down"]}, status=503)
        self.authorizations.append(request.headers.get("Authorization", ""))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections.append(ws)
        if self.close_at_once:
            await ws.close()
            return ws
        self.connected.set()
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            async with self.registered:
                self.frames.append(msg.data)
                self.registered.notify_all()
            verb, _, pattern = msg.data.partition(" ")
            if self.ack:
                await self.acknowledge(ws, verb, pattern)
        return ws

    async def acknowledge(self, ws: web.WebSocketResponse, verb: str, pattern: str) -> None:
        await ws.send_str(json.dumps(
            {"Time": "", "Type": "websocket", "Action": verb, "Key": pattern, "Object": None}
        ))

    async def wait_frames(self, count: int, timeout: float = 5.0) -> list[str]:
        """Wait until ``count`` frames arrived in total."""
        async with asyncio.timeout(timeout), self.registered:
            await self.registered.wait_for(lambda: len(self.frames) >= count)
        return self.frames

    async def send(self, type: str, action: str, key: str, obj: Any = None) -> None:
        """Send one event on the newest connection (waits while the client does not read)."""
        await self.current.send_str(json.dumps(
            {"Time": "", "Type": type, "Action": action, "Key": key, "Object": obj}
        ))

    async def send_raw(self, text: str) -> None:
        """Send one text message as is on the newest connection."""
        await self.current.send_str(text)

    async def drop(self) -> None:
        """Close every connection as a restarting server would."""
        self.connected.clear()
        for ws in self.connections:
            with contextlib.suppress(Exception):
                await ws.close(code=1001)


@contextlib.asynccontextmanager
async def scripted_server(unix: str | None = None) -> AsyncIterator[tuple[ScriptedEvents, str]]:
    """Yields the script and its endpoint (``http://127.0.0.1:<port>`` or the socket path)."""
    script = ScriptedEvents()
    runner = web.AppRunner(script.app)
    await runner.setup()
    site = web.UnixSite(runner, unix) if unix else web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        if unix:
            yield script, unix
        else:
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            yield script, f"http://127.0.0.1:{port}"
    finally:
        await script.drop()
        await runner.cleanup()
