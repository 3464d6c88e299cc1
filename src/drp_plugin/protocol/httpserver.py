"""A small HTTP/1.1 server on a unix socket, built on h11 and asyncio streams.

It answers every request with JSON.  Requests on one connection are handled in
order (keep-alive and pipelining), connections run concurrently.  Bodies larger
than ``max_body`` are refused with 413 before they are read whole.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import h11

DEFAULT_MAX_BODY = 64 * 1024 * 1024
_READ_SIZE = 256 * 1024


class Request:
    """One HTTP request, read whole."""

    __slots__ = ("method", "path", "query", "headers", "body", "after_response")

    def __init__(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        #: Called once the response was written (``/stop`` exits from here).
        self.after_response: Callable[[], None] | None = None
        self.method = method
        self.path, _, self.query = target.partition("?")
        self.headers = headers
        self.body = body

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


#: An app takes a request and returns (status, JSON-able body).
App = Callable[[Request], Awaitable[tuple[int, Any]]]


def error_body(code: int, message: str | None = None, *, type: str = "", key: str = "",
               model: str = "") -> dict[str, Any]:
    """A ``models.Error`` JSON object."""
    return {"Model": model, "Key": key, "Type": type,
            "Messages": [message] if message is not None else None, "Code": code}


def encode_json(body: Any) -> bytes:
    """JSON plus a newline, like Go's ``json.Encoder``."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


class _DateCache:
    __slots__ = ("second", "value")

    def __init__(self) -> None:
        self.second = -1
        self.value = b""

    def get(self) -> bytes:
        now = int(time.time())
        if now != self.second:
            self.second = now
            # RFC 7231 IMF-fixdate; Python never sets LC_TIME, so names are English.
            self.value = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now)).encode()
        return self.value


class UnixHTTPServer:
    """Serve ``app`` on the unix socket ``path`` (mode 0600, stale file removed)."""

    def __init__(self, path: str, app: App, *, max_body: int = DEFAULT_MAX_BODY) -> None:
        self.path = path
        self.app = app
        self.max_body = max_body
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._date = _DateCache()

    async def start(self) -> None:
        if os.path.lexists(self.path):
            os.unlink(self.path)
        old = os.umask(0o177)  # the socket file is created 0600: no window for others
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=self.path, limit=_READ_SIZE
            )
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is being handled; False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except (asyncio.TimeoutError, TimeoutError):  # noqa: UP041 - distinct before 3.11
            return False

    async def close(self) -> None:
        """Stop accepting, close connections, and remove the socket file."""
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def _response(self, conn: h11.Connection, status: int, body: Any, close: bool,
                  head_only: bool = False) -> bytes:
        try:
            payload = encode_json(body)
        except (TypeError, ValueError) as exc:
            status = 500
            payload = encode_json(error_body(500, f"reply is not JSON: {exc}"))
        headers = [
            (b"Content-Type", b"application/json"),
            (b"Date", self._date.get()),
            (b"Content-Length", str(len(payload)).encode()),
        ]
        if close:
            headers.append((b"Connection", b"close"))
        out = conn.send(h11.Response(status_code=status, headers=headers,
                                     reason=_reason(status))) or b""
        if not head_only:  # a response to HEAD has no body
            out += conn.send(h11.Data(data=payload)) or b""
        return out + (conn.send(h11.EndOfMessage()) or b"")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
        try:
            while True:
                request = await self._read_request(conn, reader, writer)
                if request is None:
                    return
                self.in_flight += 1
                self._idle.clear()
                try:
                    try:
                        status, body = await self.app(request)
                    except Exception as exc:  # the app's own safety net failed
                        status, body = 500, error_body(500, f"Panic recovered: {exc!r}",
                                                       type=request.method, key=request.path)
                    if not 100 <= status <= 599:
                        status = 500
                    writer.write(self._response(conn, status, body, False,
                                                request.method == "HEAD"))
                    await writer.drain()
                    if request.after_response is not None:
                        request.after_response()
                finally:
                    self.in_flight -= 1
                    if self.in_flight == 0:
                        self._idle.set()
                if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                    return
                try:
                    conn.start_next_cycle()
                except h11.LocalProtocolError:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, h11.ProtocolError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _read_request(
        self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Request | None:
        head: h11.Request | None = None
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                await self._refuse(conn, writer, exc.error_status_hint or 400, f"Bad request: {exc}")
                return None
            if event is h11.NEED_DATA:
                data = await reader.read(_READ_SIZE)
                if not data and conn.their_state is h11.IDLE and head is None:
                    return None
                try:
                    conn.receive_data(data)
                except h11.RemoteProtocolError as exc:
                    await self._refuse(conn, writer, 400, f"Bad request: {exc}")
                    return None
                continue
            if isinstance(event, h11.Request):
                head = event
                length = _content_length(list(event.headers))
                if length is not None and length > self.max_body:
                    await self._refuse(conn, writer, 413, _too_large(self.max_body), event)
                    return None
            elif isinstance(event, h11.Data):
                size += len(event.data)
                if size > self.max_body:
                    await self._refuse(conn, writer, 413, _too_large(self.max_body), head)
                    return None
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in head.headers}
                return Request(head.method.decode("latin-1"), head.target.decode("latin-1"),
                               headers, b"".join(chunks))
            elif isinstance(event, (h11.ConnectionClosed, h11.PAUSED)):
                return None

    async def _refuse(self, conn: h11.Connection, writer: asyncio.StreamWriter, status: int,
                      message: str, head: h11.Request | None = None) -> None:
        """Answer an unreadable request and close the connection."""
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        method = head.method.decode("latin-1") if head else ""
        path = head.target.decode("latin-1").partition("?")[0] if head else ""
        body = error_body(status, message, type=method, key=path)
        try:
            if conn.our_state is h11.IDLE and conn.their_state is not h11.SEND_BODY and head is None:
                # h11 cannot answer before it saw a request head: write it by hand.
                payload = encode_json(body)
                writer.write(
                    b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (status, _reason(status), len(payload))
                    + payload
                )
            else:
                writer.write(self._response(conn, status, body, True))
            await writer.drain()
        except (ConnectionError, h11.LocalProtocolError):
            pass


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


def _too_large(limit: int) -> str:
    return f"Request body too large: the limit is {limit} bytes"
