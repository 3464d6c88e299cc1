"""An HTTP/1.1 client for one unix socket (DRP's from-plugin socket), on :mod:`.http1`.

One keep-alive connection, requests one at a time (or pipelined, for ``/log``),
reconnecting when the connection was closed.  Every failure is an
:class:`OSError`, :class:`EOFError`, :class:`asyncio.TimeoutError` or a
:class:`ClientError`; nothing here logs.
"""

from __future__ import annotations

import asyncio

from ..errors import ClientError
from . import http1

_READ = 256 * 1024


class UnixHTTPClient:
    """POST JSON to ``http://unix<path>`` over the unix socket ``socket_path``."""

    def __init__(self, socket_path: str, *, timeout: float = 10.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._parser: http1.Parser | None = None
        self._lock = asyncio.Lock()
        self._prefixes: dict[str, bytes] = {}

    @property
    def connected(self) -> bool:
        """A connection is open (it may still turn out stale on the next request)."""
        return self._writer is not None and not self._writer.is_closing() \
            and self._parser is not None and not self._parser.stopped

    async def connect(self) -> None:
        """Open the connection now (``listen`` checks the socket before READY!)."""
        async with self._lock:
            await self._ensure()

    async def _ensure(self) -> None:
        if self._writer is None or self._writer.is_closing() or self._parser is None \
                or self._parser.stopped:
            await self._drop()
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_unix_connection(self.socket_path, limit=_READ), self.timeout
            )
            self._parser = http1.Parser(response=True)

    async def _drop(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
        self._parser = None

    async def close(self) -> None:
        """Close the connection (bounded: waits for no one but a request in progress)."""
        try:
            await asyncio.wait_for(self._lock.acquire(), self.timeout)
        except asyncio.TimeoutError:
            await self._drop()  # a request is stuck: close under it
            return
        try:
            await self._drop()
        finally:
            self._lock.release()

    def _request(self, path: str, body: bytes) -> bytes:
        prefix = self._prefixes.get(path)
        if prefix is None:
            prefix = self._prefixes[path] = http1.request_prefix(path)
        return b"%s%d\r\n\r\n%s" % (prefix, len(body), body)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """Send one request and return ``(status, body)``; retries once on a stale connection."""
        async with self._lock:
            for attempt in (0, 1):
                reused = self._writer is not None
                try:
                    await self._ensure()
                    return await asyncio.wait_for(self._exchange(path, body), self.timeout)
                except (asyncio.TimeoutError, OSError, EOFError, ClientError):
                    await self._drop()
                    if attempt or not reused:
                        raise
            raise AssertionError("unreachable")

    async def post_pipelined(self, path: str, bodies: list[bytes]) -> list[int]:
        """Send several POSTs back to back on one connection, then read the answers.

        Answers come in order (HTTP/1.1 pipelining); returns their statuses.  If
        the connection fails part-way, the statuses read so far are returned and
        the rest are unknown (the caller counts them as not delivered).
        """
        statuses: list[int] = []
        async with self._lock:
            try:
                await self._ensure()
                writer = self._writer
                assert writer is not None
                prefix = self._prefixes.get(path)
                if prefix is None:
                    prefix = self._prefixes[path] = http1.request_prefix(path)
                writer.write(b"".join([b"%s%d\r\n\r\n%s" % (prefix, len(body), body)
                                       for body in bodies]))
                # One timeout for the whole exchange (each wait_for costs a task).
                await asyncio.wait_for(self._drain_and_read(statuses, len(bodies)), self.timeout)
            except (asyncio.TimeoutError, OSError, EOFError, ClientError):
                await self._drop()
                if not statuses:
                    raise
        return statuses

    async def _drain_and_read(self, statuses: list[int], count: int) -> None:
        writer = self._writer
        assert writer is not None
        await writer.drain()
        await self._read_statuses(statuses, count)

    async def _read_statuses(self, statuses: list[int], count: int) -> None:
        parser, reader = self._parser, self._reader
        assert parser is not None and reader is not None
        while len(statuses) < count:
            try:
                event = parser.next()
            except http1.HTTPError as exc:
                raise ClientError(str(exc)) from None
            if event is None:
                if parser.stopped:
                    await self._drop()
                    return
                data = await reader.read(_READ)
                if not data:
                    raise EOFError("connection closed by DRP")
                parser.feed(data)
            elif event == http1.Parser.MESSAGE:
                head, _ = parser.take()
                statuses.append(head.status)
                if parser.stopped:
                    await self._drop()
                    return

    async def _read_response(self) -> tuple[int, bytes]:
        parser, reader = self._parser, self._reader
        assert parser is not None and reader is not None
        while True:
            try:
                event = parser.next()
            except http1.HTTPError as exc:
                raise ClientError(str(exc)) from None
            if event is None:
                data = await reader.read(_READ)
                if not data:
                    parser.feed_eof()
                    event = parser.next()  # a body read until the connection closed
                    if event != http1.Parser.MESSAGE:
                        raise EOFError("connection closed by DRP")
                else:
                    parser.feed(data)
                    continue
            if event == http1.Parser.MESSAGE:
                head, body = parser.take()
                return head.status, bytes(body)

    async def _exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        writer = self._writer
        assert writer is not None
        writer.write(self._request(path, body))
        await writer.drain()
        status, reply = await self._read_response()
        parser = self._parser
        if parser is None or parser.stopped:
            await self._drop()
        return status, reply
