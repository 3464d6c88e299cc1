"""The TCP sink: a connection that knows how many bytes the peer acknowledged."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import socket
import struct
import termios
from typing import TYPE_CHECKING, Any

from .errors import SinkError

if TYPE_CHECKING:
    from .files import FileSink

CONNECT_TIMEOUT = 5.0
#: Seconds a peer that closed its side may keep a write waiting before a reset.
EOF_GRACE = 10.0


def _tune_keepalive(sock: Any) -> None:
    """Let the kernel declare a silent peer dead (keepalive, TCP_USER_TIMEOUT)."""
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3),
                        ("TCP_USER_TIMEOUT", 60_000)):
        if hasattr(socket, name):
            options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    for level, option, value in options:
        try:
            sock.setsockopt(level, option, value)
        except OSError:
            pass


class TcpSink:
    """A TCP connection to ``host:port`` that knows how much the peer acknowledged.

    ``written`` counts the bytes handed to the current connection.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.writer: asyncio.StreamWriter | None = None
        self.written = 0
        self.lost = False
        self._watcher: asyncio.Task[None] | None = None
        self._outq_works = True

    def __repr__(self) -> str:
        return f"tcp {self.host}:{self.port}"

    def same_as(self, other: FileSink | TcpSink) -> bool:
        return isinstance(other, TcpSink) and (other.host, other.port) == (self.host, self.port)

    def check(self) -> None:
        return None

    @property
    def broken(self) -> bool:
        return self.lost or self.writer is None or self.writer.transport.is_closing()

    async def open(self) -> None:
        await self.close()
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), CONNECT_TIMEOUT)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            _tune_keepalive(sock)
        self.writer, self.written, self.lost = writer, 0, False
        self._watcher = asyncio.create_task(self._watch(reader))

    async def _watch(self, reader: asyncio.StreamReader) -> None:
        """The peer never talks: end of stream or an error means the connection is gone.

        After the peer's end of stream, what it still reads reaches it (the close is
        graceful); but a peer that stops reading too would hold a write forever, so
        after ``EOF_GRACE`` seconds with bytes still waiting the connection is reset.
        """
        try:
            while await reader.read(65536):
                pass
        except OSError:
            pass
        self.lost = True
        writer = self.writer
        waited = 0.0
        while writer is not None and not writer.transport.is_closing() \
                and writer.transport.get_write_buffer_size():
            if waited >= EOF_GRACE:
                writer.transport.abort()
                break
            await asyncio.sleep(0.1)
            waited += 0.1

    async def write(self, data: bytes) -> None:
        writer = self.writer
        if writer is None or self.broken:
            raise SinkError(ConnectionResetError("connection lost"))
        try:
            writer.write(data)
            self.written += len(data)
            await writer.drain()
        except (OSError, RuntimeError) as exc:
            self.lost = True
            raise SinkError(exc) from exc

    def unacknowledged(self) -> int:
        """Bytes written and not yet acknowledged by the peer's TCP stack.

        The transport's own buffer plus the socket's send queue (``SIOCOUTQ``:
        bytes sent and not acknowledged, or not sent yet).  Without ``SIOCOUTQ``
        (not Linux), bytes the kernel accepted count as acknowledged; without a
        socket, nothing does.
        """
        writer = self.writer
        if writer is None:
            return self.written
        pending = writer.transport.get_write_buffer_size()
        sock = writer.get_extra_info("socket")
        if sock is None or sock.fileno() < 0:
            return self.written
        if self._outq_works:
            try:
                raw = fcntl.ioctl(sock.fileno(), getattr(termios, "TIOCOUTQ", 0x5411), b"\0" * 4)
                pending += struct.unpack("i", raw)[0]
            except OSError:
                if self.broken:
                    return self.written
                self._outq_works = False
        return min(pending, self.written)

    async def close(self) -> None:
        writer, self.writer = self.writer, None
        watcher, self._watcher = self._watcher, None
        if writer is not None:
            writer.close()  # graceful: what is buffered still goes out
            try:
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            except (TimeoutError, asyncio.TimeoutError):
                # A peer that does not read keeps it open: reset it after a while.
                asyncio.get_running_loop().call_later(EOF_GRACE, writer.transport.abort)
            except OSError:
                pass
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
