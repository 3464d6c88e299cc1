"""Lean asyncio servers on unix sockets, each run in its own process.

- :class:`Sink` plays DRP's from-plugin socket: it answers ``/log`` (204),
  ``/publish`` (200) and ``/leaving`` (204) and counts what arrives in shared
  counters, with the arrival time of the last log line.  It parses with
  ``drp_plugin.protocol.http1`` (the cheapest parser at hand: DRP's Go server is
  faster still), so that the sink's CPU does not starve the provider on 2 cores.
- :class:`Floor` is the throughput floor: the least an asyncio + h11 server on a
  unix socket can do per request (answer ``"Running"`` like ``incrstatus``, with
  the provider's headers), without any plugin runtime.
"""

from __future__ import annotations

import asyncio
import multiprocessing.sharedctypes
import os
import time
from collections.abc import Callable
from typing import Any

import h11

from drp_plugin.protocol.http1 import DateCache

from .util import MP

# Counter slots of a Sink.
LOG_LINES, LOG_LAST_NS, LOG_BYTES, PUBLISHED, LEAVING, OTHER = range(6)

#: handler(target, body) -> (status, body)
Handler = Callable[[bytes, bytes], tuple[int, bytes]]


class H11Protocol(asyncio.Protocol):
    """One connection: parse requests with h11, answer each from ``handler``."""

    def __init__(self, handler: Handler, date: DateCache) -> None:
        self.handler = handler
        self.date = date
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
        self.transport: asyncio.Transport | None = None
        self.target = b""
        self.chunks: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        conn.receive_data(data)
        self._process()

    def eof_received(self) -> bool | None:
        return None

    def _process(self) -> None:
        conn = self.conn
        assert self.transport is not None
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError:
                self.transport.close()
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.Request):
                self.target = event.target
                self.chunks = []
            elif isinstance(event, h11.Data):
                self.chunks.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                status, body = self.handler(self.target, b"".join(self.chunks))
                headers = [(b"Date", self.date.get())]
                if status != 204:
                    headers = [(b"Content-Type", b"application/json"), *headers,
                               (b"Content-Length", str(len(body)).encode())]
                out = conn.send(h11.Response(status_code=status, headers=headers)) or b""
                if body:
                    out += conn.send(h11.Data(data=body)) or b""
                out += conn.send(h11.EndOfMessage()) or b""
                self.transport.write(out)
                if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                    self.transport.close()
                    return
                conn.start_next_cycle()
            elif isinstance(event, h11.ConnectionClosed):
                self.transport.close()
                return


class CodecProtocol(asyncio.Protocol):
    """One connection: parse requests with the provider's own codec, answer from ``handler``."""

    def __init__(self, handler: Handler, date: DateCache) -> None:
        from drp_plugin.protocol import http1

        self.http1 = http1
        self.handler = handler
        self.date = date
        self.parser = http1.Parser()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        parser.feed(data)
        out = []
        try:
            while (event := parser.next()) is not None:
                if event == self.http1.Parser.MESSAGE:
                    head, body = parser.take()
                    status, reply = self.handler(head.target, bytes(body))
                    if status == 204:
                        out.append(b"HTTP/1.1 204 No Content\r\nDate: %s\r\n\r\n" % self.date.get())
                    else:
                        out.append(self.http1.encode_response(status, reply, self.date.get()))
        except self.http1.HTTPError:
            assert self.transport is not None
            self.transport.close()
            return
        if out:
            assert self.transport is not None
            self.transport.write(b"".join(out))


def _serve_forever(path: str, handler: Handler, ready: Any,
                   protocol: type[asyncio.Protocol] | None = None) -> None:
    async def main() -> None:
        if os.path.lexists(path):
            os.unlink(path)
        date = DateCache()
        loop = asyncio.get_running_loop()
        factory = protocol or H11Protocol
        server = await loop.create_unix_server(lambda: factory(handler, date),  # type: ignore[call-arg]
                                               path)
        ready.set()
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


class _ServerProcess:
    def __init__(self, path: str) -> None:
        self.path = path
        self.process: multiprocessing.process.BaseProcess | None = None

    def _start(self, target: Callable[..., None], *args: Any) -> None:
        ready = MP.Event()
        self.process = MP.Process(target=target, args=(self.path, *args, ready), daemon=True)
        self.process.start()
        if not ready.wait(20):
            self.close()
            raise RuntimeError(f"{type(self).__name__} did not start on {self.path}")

    @property
    def pid(self) -> int:
        assert self.process is not None and self.process.pid is not None
        return self.process.pid

    def close(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
            if self.process.is_alive():
                self.process.kill()
                self.process.join()
        self.process = None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def __enter__(self) -> _ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sink_main(path: str, counters: Any, ready: Any) -> None:
    log_path = b"/api-server-plugin/v4/log"
    publish_path = b"/api-server-plugin/v4/publish"
    leaving_path = b"/api-server-plugin/v4/leaving"
    monotonic_ns = time.monotonic_ns

    def handler(target: bytes, body: bytes) -> tuple[int, bytes]:
        if target == log_path:
            counters[LOG_BYTES] += len(body)
            counters[LOG_LINES] += 1
            counters[LOG_LAST_NS] = monotonic_ns()
            return 204, b""
        if target == publish_path:
            counters[PUBLISHED] += 1
            return 200, b'{"Code":200}\n'
        if target == leaving_path:
            counters[LEAVING] += 1
            return 204, b""
        counters[OTHER] += 1
        return 404, b'{"Code":404}\n'

    _serve_forever(path, handler, ready, CodecProtocol)


class Sink(_ServerProcess):
    """DRP's from-plugin socket in a separate process, counting every ``/log`` line."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.counters: multiprocessing.sharedctypes.SynchronizedArray[int] | Any = (
            MP.RawArray("q", 6))

    def start(self) -> Sink:
        self._start(_sink_main, self.counters)
        return self

    def __enter__(self) -> Sink:
        return self.start()

    @property
    def lines(self) -> int:
        return int(self.counters[LOG_LINES])

    @property
    def last_line_ns(self) -> int:
        return int(self.counters[LOG_LAST_NS])

    def settle(self, quiet: float = 0.2, timeout: float = 10.0) -> int:
        """Wait until no line arrived for ``quiet`` s (lines of earlier calls)."""
        end = time.monotonic() + timeout
        last, since = self.lines, time.monotonic()
        while time.monotonic() < end:
            time.sleep(0.01)
            now = self.lines
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
        return last

    def wait_lines(self, target: int, timeout: float = 3.0, quiet: float = 0.25) -> int:
        """Wait until ``target`` lines arrived (then ``quiet`` s more for extras),
        or until nothing arrived for ``timeout`` s; returns the count."""
        deadline = time.monotonic() + timeout
        last = self.lines
        while self.lines < target:
            time.sleep(0.002)
            now = self.lines
            if now != last:
                last = now
                deadline = time.monotonic() + timeout
            elif time.monotonic() > deadline:
                return now
        # Extra lines (more than expected) would show up now.
        end = time.monotonic() + quiet
        while time.monotonic() < end:
            time.sleep(0.01)
        return self.lines


def _floor_main(path: str, ready: Any) -> None:
    reply = b'"Running"\n'

    def handler(target: bytes, body: bytes) -> tuple[int, bytes]:
        return 200, reply

    _serve_forever(path, handler, ready)


class RawProtocol(asyncio.Protocol):
    """No h11: split the head by hand, read Content-Length, answer from a template.

    Only for the profile's ablation: how much of the floor is h11 itself."""

    def __init__(self, date: DateCache) -> None:
        self.date = date
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        buf = self.buf + data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            length = 0
            for line in buf[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(buf) < end + 4 + length:
                break
            buf = buf[end + 4 + length:]
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: "
                + self.date.get() + b"\r\nContent-Length: 10\r\n\r\n\"Running\"\n")
        self.buf = buf


def _raw_floor_main(path: str, ready: Any) -> None:
    async def main() -> None:
        if os.path.lexists(path):
            os.unlink(path)
        date = DateCache()
        server = await asyncio.get_running_loop().create_unix_server(
            lambda: RawProtocol(date), path)
        ready.set()
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


class RawFloor(_ServerProcess):
    """The floor without h11 (hand-split requests, templated replies)."""

    def start(self) -> RawFloor:
        self._start(_raw_floor_main)
        return self

    def __enter__(self) -> RawFloor:
        return self.start()


class Floor(_ServerProcess):
    """The minimal asyncio + h11 responder: the throughput floor for one process."""

    def start(self) -> Floor:
        self._start(_floor_main)
        return self

    def __enter__(self) -> Floor:
        return self.start()
