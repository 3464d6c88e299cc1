"""Small real servers for transport behaviour the stand-in does not stage.

``serve(app)`` runs an aiohttp app on TCP (plain HTTP) or a unix socket;
``DroppingServer`` is a raw HTTP/1.1 server that hangs up on the first requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web


@contextlib.asynccontextmanager
async def serve(app: web.Application, unix: str | None = None) -> AsyncIterator[str]:
    """Run ``app``; yields its endpoint (``http://127.0.0.1:<port>``, or the socket path)."""
    runner = web.AppRunner(app)
    await runner.setup()
    site: web.BaseSite
    if unix:
        site = web.UnixSite(runner, unix)
    else:
        site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        if unix:
            yield unix
        else:
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


class DroppingServer:
    """Hangs up without an answer on the first ``drops`` requests, then answers 200.

    ``requests`` records ``(method, path)`` of every request that arrived.
    """

    def __init__(self, drops: int, answer: Any = None) -> None:
        self.drops = drops
        self.answer = {"ok": True} if answer is None else answer
        self.requests: list[tuple[str, str]] = []
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()
        while self._writers:  # let the handlers see their connection end
            await asyncio.sleep(0.001)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                self.requests.append((method, path))
                if len(self.requests) <= self.drops:
                    writer.transport.abort()
                    return
                body = json.dumps(self.answer).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
        finally:
            self._writers.discard(writer)
