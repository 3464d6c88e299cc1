"""An HTTP/1.1 client for one unix socket (DRP's from-plugin socket), on h11.

One keep-alive connection, requests one at a time, reconnecting when the
connection was closed.  Every failure is an :class:`OSError` or a
:class:`ClientError`; nothing here logs.
"""

from __future__ import annotations

import asyncio

import h11

from ..errors import ClientError as ClientError  # re-exported: the tree lives in errors


class UnixHTTPClient:
    """POST JSON to ``http://unix<path>`` over the unix socket ``socket_path``."""

    def __init__(self, socket_path: str, *, timeout: float = 10.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._conn: h11.Connection | None = None
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        """Open the connection now (``listen`` checks the socket before READY!)."""
        async with self._lock:
            await self._ensure()

    async def _ensure(self) -> None:
        if self._writer is None or self._writer.is_closing() or self._conn is None:
            await self._drop()
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_unix_connection(self.socket_path), self.timeout
            )
            self._conn = h11.Connection(h11.CLIENT)

    async def _drop(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
        self._conn = None

    async def close(self) -> None:
        async with self._lock:
            await self._drop()

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """Send one request and return ``(status, body)``; retries once on a stale connection."""
        async with self._lock:
            for attempt in (0, 1):
                reused = self._writer is not None
                try:
                    await self._ensure()
                    return await asyncio.wait_for(self._exchange(path, body), self.timeout)
                except (OSError, EOFError, h11.ProtocolError, ClientError, TimeoutError):
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
                conn, reader, writer = self._conn, self._reader, self._writer
                assert conn is not None and reader is not None and writer is not None
                writer.write(b"".join(_request_bytes(path, body) for body in bodies))
                await writer.drain()
                for body in bodies:
                    # Walk h11's client state through the request already on the wire.
                    conn.send(_request(path, len(body)))
                    conn.send(h11.Data(data=body))
                    conn.send(h11.EndOfMessage())
                    status, _ = await asyncio.wait_for(self._read_response(conn, reader),
                                                       self.timeout)
                    statuses.append(status)
                    if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                        await self._drop()
                        break
                    conn.start_next_cycle()
            except (OSError, EOFError, h11.ProtocolError, TimeoutError):
                await self._drop()
                if not statuses:
                    raise
        return statuses

    async def _read_response(self, conn: h11.Connection,
                             reader: asyncio.StreamReader) -> tuple[int, bytes]:
        status = 0
        chunks: list[bytes] = []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                if not data:
                    raise EOFError("connection closed by DRP")
                conn.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return status, b"".join(chunks)
            elif isinstance(event, h11.ConnectionClosed):
                raise EOFError("connection closed by DRP")

    async def _exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        conn, reader, writer = self._conn, self._reader, self._writer
        assert conn is not None and reader is not None and writer is not None
        request = _request(path, len(body))
        writer.write(conn.send(request) + conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage()))
        await writer.drain()
        status, reply = await self._read_response(conn, reader)
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
            await self._drop()
        else:
            conn.start_next_cycle()
        return status, reply


_HEADERS = [("Host", "unix"), ("Content-Type", "application/json"), ("User-Agent", "drp-plugin")]


def _request(path: str, length: int) -> h11.Request:
    return h11.Request(method="POST", target=path,
                       headers=[*_HEADERS, ("Content-Length", str(length))])


def _request_bytes(path: str, body: bytes) -> bytes:
    """The bytes h11 writes for :func:`_request` (pipelined requests are written at once)."""
    headers = "".join(f"{name}: {value}\r\n" for name, value in _HEADERS)
    return (f"POST {path} HTTP/1.1\r\n{headers}Content-Length: {len(body)}\r\n\r\n".encode()
            + body)
