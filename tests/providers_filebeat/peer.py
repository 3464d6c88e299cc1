"""A real TCP peer on loopback for the filebeat tests: a line collector in its own thread."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket
import struct
import termios
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

T = TypeVar("T")


class LinePeer:
    """An asyncio TCP server on 127.0.0.1 that records every line it reads, per connection.

    ``stop()`` is a graceful outage: it stops listening, half-closes every
    connection and reads each one until the client closes it.  ``stop(hard=True)``
    is a crash: it stops reading for ``stall`` seconds (with the small receive
    buffer ``rcvbuf``, the client's bytes then wait unacknowledged in the client's
    send queue), records what its kernel had acknowledged (peeked: reading would
    let more in), and resets every connection.  Either way nothing the client's
    TCP stack saw acknowledged is lost; what was not must be sent again by the
    client.  ``start()`` listens again on the same port.
    """

    def __init__(self, rcvbuf: int | None = None) -> None:
        self.rcvbuf = rcvbuf
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="line-peer", daemon=True)
        self.thread.start()
        self.port = 0
        self.connections: list[list[bytes]] = []  # lines, per connection, in order
        self.partial = 0  # connections that ended inside a line
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._readers: dict[asyncio.StreamWriter, tuple[asyncio.StreamReader, list[bytes]]] = {}
        self._lock = threading.Lock()

    def _call(self, fn: Callable[[], Coroutine[Any, Any, T]], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(fn(), self.loop).result(timeout)

    @property
    def lines(self) -> list[bytes]:
        with self._lock:
            return [line for conn in self.connections for line in conn]

    def per_connection(self) -> list[list[bytes]]:
        with self._lock:
            return [list(conn) for conn in self.connections]

    def start(self) -> int:
        async def listen() -> int:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self.rcvbuf:  # inherited by the accepted connections
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
            sock.bind(("127.0.0.1", self.port))
            self._server = await asyncio.start_server(self._serve, sock=sock)
            return int(sock.getsockname()[1])

        self.port = self._call(listen)
        return self.port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        with self._lock:
            lines: list[bytes] = []
            self.connections.append(lines)
        self._readers[writer] = (reader, lines)
        try:
            while True:
                line = await reader.readuntil(b"\n")
                with self._lock:
                    lines.append(line)
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                self.partial += 1
        except (ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._readers.pop(writer, None)
            self._writers.discard(writer)
            writer.close()
            self._handlers.discard(task)

    def stop(self, hard: bool = False, stall: float = 0.5) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
                self._server = None
            if hard:
                await self._crash(stall)
            for writer in list(self._writers):
                with contextlib.suppress(OSError):
                    writer.write_eof()
            if self._handlers:
                await asyncio.wait(list(self._handlers), timeout=20)

        self._call(shutdown)

    async def _crash(self, stall: float) -> None:
        readers = list(self._readers.items())
        for writer, _ in readers:
            cast(asyncio.Transport, writer.transport).pause_reading()
        await asyncio.sleep(stall)
        for writer, (reader, lines) in readers:
            sock = writer.get_extra_info("socket")
            # Read by the stream but not yet a whole line, then what the kernel holds.
            buffer: bytearray = reader._buffer  # type: ignore[attr-defined]  # test peer
            data = bytes(buffer)
            buffer.clear()  # taken here, not by _serve
            with socket.socket(fileno=os.dup(sock.fileno())) as raw:
                waiting = struct.unpack("i", fcntl.ioctl(raw.fileno(), termios.FIONREAD,
                                                         b"\0" * 4))[0]
                if waiting:
                    data += raw.recv(waiting, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            with self._lock:
                lines.extend(data.splitlines(keepends=True))
                if lines and not lines[-1].endswith(b"\n"):
                    lines.pop()  # a torn line is not delivered
            self._writers.discard(writer)
            writer.transport.abort()

    def close(self) -> None:
        async def abort() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            if self._handlers:
                await asyncio.wait(list(self._handlers), timeout=5)

        with contextlib.suppress(Exception):
            self._call(abort)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    def wait_for(self, predicate: Callable[[list[bytes]], bool], timeout: float) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while True:
            lines = self.lines
            if predicate(lines):
                return lines
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s ({len(lines)} lines)")
            time.sleep(0.05)
