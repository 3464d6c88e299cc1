"""The HTTP/1.1 server of the to-plugin unix socket (asyncio protocol + :mod:`.http1`).

It answers every request with JSON.  Requests on one connection are answered in
order (keep-alive and pipelining); connections run concurrently.  Everything it
holds is bounded, in bytes and seconds (:class:`ServerLimits`, docs/design.md):

- at most ``max_connections`` connections: at the limit the longest-idle
  keep-alive connection is closed to make room, else the longest-silent new one
  (a socket that sent nothing), else the new connection's request is answered 503
  naming the setting; the listen backlog is the kernel's largest (``somaxconn``,
  as Go's listener takes), so a burst of dials is accepted, never refused;
- a head larger than ``max_head`` is refused (431) however its bytes arrive; a body
  larger than ``max_body`` is refused (413) before it is read; bodies being read or
  waiting for their turn hold at most ``max_buffered`` bytes across all
  connections (503 beyond); a body of known length is read into one buffer of
  that size, freed once answered;
- a connection idle for ``idle_timeout`` between requests is closed; a new
  connection that sent no byte within ``header_timeout`` is closed; a head not
  complete ``header_timeout`` after the connection opened (or, between requests,
  after its first byte), or a body that stalls for ``body_timeout``, is answered
  408 and closed;
- ``Expect: 100-continue`` is answered ``100 Continue`` when the body is wanted;
- when ``accept`` runs out of file descriptors the accept loop backs off (10 ms
  doubling to 1 s) and says so once per episode on stderr, never through logging.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import errno
import os
import socket
import sys
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import Any, Union

from ..errors import error_body, panic_body
from . import http1
from .http1 import DateCache, HTTPError, encode_json, encode_response

DEFAULT_MAX_BODY = 64 * 1024 * 1024


@dataclass
class ServerLimits:
    """The server's bounds (values: ``listen`` takes them from its settings,
    :meth:`~drp_plugin.protocol.settings.ListenSettings.limits`)."""

    #: Largest request body, bytes (``DRP_PLUGIN_MAX_BODY``): 413 beyond.
    max_body: int = DEFAULT_MAX_BODY
    #: Largest request head, bytes (``DRP_PLUGIN_MAX_HEADER``): 431 beyond.
    max_head: int = http1.DEFAULT_MAX_HEAD
    #: Request bytes held across all connections (``DRP_PLUGIN_MAX_BUFFERED``): 503 beyond.
    max_buffered: int = 256 * 1024 * 1024
    #: Concurrent connections (``DRP_PLUGIN_MAX_CONNECTIONS``); at the limit idle ones are
    #: closed first, then new ones are answered 503.
    max_connections: int = 16384
    #: Seconds a connection may sit idle between requests (``DRP_PLUGIN_IDLE_TIMEOUT``).
    idle_timeout: float = 300.0
    #: Seconds from a head's first byte to its end (``DRP_PLUGIN_HEADER_TIMEOUT``).
    header_timeout: float = 10.0
    #: Seconds a body may go without a byte (``DRP_PLUGIN_BODY_TIMEOUT``).
    body_timeout: float = 30.0


class WireRequest:
    """One HTTP request, read whole."""

    __slots__ = ("method", "path", "query", "body", "after_response", "keep_alive",
                 "_reserved", "_raw", "_headers")

    def __init__(self, method: str, target: str,
                 headers: dict[str, str] | list[tuple[bytes, bytes]],
                 body: bytes | bytearray, keep_alive: bool = True) -> None:
        #: Called once the response was written (``/stop`` exits from here).
        self.after_response: Callable[[], None] | None = None
        self.method = method
        self.path, _, self.query = target.partition("?")
        if isinstance(headers, dict):
            self._headers: dict[str, str] | None = headers
            self._raw: list[tuple[bytes, bytes]] = []
        else:
            self._headers = None
            self._raw = headers
        #: A body arrives in one buffer, as read (no second copy).
        self.body = body
        self.keep_alive = keep_alive
        self._reserved = 0

    @property
    def headers(self) -> dict[str, str]:
        """Lower-case names; a repeated header keeps its last value."""
        if self._headers is None:
            self._headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in self._raw}
        return self._headers

    def _raw_content_type(self) -> bytes:
        found = b""
        for name, value in self._raw:
            if name == b"content-type":
                found = value
        return found

    @property
    def content_type(self) -> str:
        """The Content-Type header, as sent."""
        if self._headers is None:
            return self._raw_content_type().decode("latin-1")
        return self._headers.get("content-type", "")

    @property
    def media_type(self) -> str:
        """The media type of the Content-Type, lower case, parameters removed."""
        if self._headers is None and self._raw_content_type() == b"application/json":
            return "application/json"  # what DRP sends: nothing to normalise
        return http1.media_type(self.content_type)


def listen_backlog() -> int:
    """The kernel's largest listen backlog (``net.core.somaxconn``, at most 65,535), as
    Go's ``net`` package takes it: a burst of dials waits there instead of failing
    (Go's dial on a unix socket fails at once with EAGAIN when the backlog is full)."""
    try:
        with open("/proc/sys/net/core/somaxconn", "rb") as f:
            value = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return max(socket.SOMAXCONN, 1024)
    return max(1, min(value, 65535))


def reply_payload(status: int, body: Any, request: WireRequest) -> tuple[int, bytes]:
    """The status and JSON bytes written for an app's answer: a status that is not a
    final one, or a body that is not JSON (NaN, say), becomes a 500 ``models.Error``."""
    if not 100 <= status <= 599 or 100 <= status < 200:
        status = 500
    try:
        return status, encode_json(body)
    except (TypeError, ValueError, RecursionError) as exc:
        return 500, encode_json(error_body(500, f"reply is not JSON: {exc}",
                                           type=request.method, key=request.path))


#: An app takes a request and returns (status, JSON-able body).
RouteHandler = Callable[[WireRequest], Awaitable[tuple[int, Any]]]


class _Refusal:
    __slots__ = ("status", "message", "method", "path")

    def __init__(self, status: int, message: str, method: str = "", path: str = "") -> None:
        self.status = status
        self.message = message
        self.method = method
        self.path = path


#: Bodies at least this large are followed by a ``malloc_trim`` once freed.
_TRIM_AFTER = 1024 * 1024
_trim_fn: Any = None


def _malloc_trim() -> None:
    """Return freed heap memory to the OS (glibc's ``malloc_trim``; a no-op elsewhere).

    Python frees a large body, but glibc keeps freed heap pages unless asked; without
    this, RSS stays at its peak after a burst of large requests."""
    global _trim_fn
    if _trim_fn is None:
        try:
            import ctypes

            _trim_fn = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _trim_fn = False
    if _trim_fn:
        _trim_fn(0)


_Item = Union[WireRequest, _Refusal]  # noqa: UP007 (a runtime alias on Python 3.9)

# The first step of a request runs in data_received, inside the connection's task
# (asyncio's own bookkeeping, as 3.12's eager tasks do it): most requests finish
# there, with no wake-up of the task.  Needs the task's context (create_task's
# ``context=``, 3.11+) and asyncio's _enter_task/_leave_task; else every request
# goes through the task.
_enter_task = getattr(asyncio.tasks, "_enter_task", None)
_leave_task = getattr(asyncio.tasks, "_leave_task", None)
_EAGER = sys.version_info >= (3, 11) and _enter_task is not None and _leave_task is not None


@types.coroutine
def _resume(coro: Coroutine[Any, Any, bool], pending: Any) -> Generator[Any, Any, bool]:
    """Go on with ``coro`` in the current task; its first step yielded ``pending``."""
    while True:
        try:
            yield pending
        except BaseException as exc:  # the task was cancelled, or closed
            try:
                pending = coro.throw(exc)
            except StopIteration as stop:
                return bool(stop.value)
        else:
            try:
                pending = coro.send(None)
            except StopIteration as stop:
                return bool(stop.value)


#: While requests are read, the listen backlog is drained at least this often (seconds):
#: with thousands of connections readable at once one round of the loop takes long, and
#: a burst of dials would find the backlog full (Go's dial then fails at once).
_DRAIN_EVERY = 0.002

# Read-deadline kinds of a connection.
_NONE, _IDLE, _HEAD, _BODY = 0, 1, 2, 3
#: Parsed requests waiting on one connection before reading pauses.
_MAX_PIPELINED = 16


class _Connection(asyncio.Protocol):
    def __init__(self, server: UnixHTTPServer) -> None:
        self.server = server
        limits = server.limits
        self.parser = http1.Parser(max_head=limits.max_head, max_body=limits.max_body)
        self.pending: collections.deque[_Item] = collections.deque()
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.drain_waiter: asyncio.Future[None] | None = None
        self.reserved = 0  # bytes of the body being read, reserved from the server's budget
        self.busy = False
        self.done_reading = False
        self.lost = False
        self.reading_paused = False
        self.kind = _NONE
        self.deadline = 0.0
        #: No request was read yet: the first head must come within the header timeout.
        self.fresh = True
        #: Accepted past ``max_connections``: its request is answered 503.
        self.over_limit = False
        self.task: asyncio.Task[None] | None = None
        self.context: contextvars.Context | None = None
        #: A request whose first step ran in data_received and that the task finishes:
        #: (request, its coroutine and what it yielded, or None when it was answered
        #: and only its ``after_response`` is left).
        self.resume: tuple[WireRequest, Coroutine[Any, Any, bool] | None, Any] | None = None

    # -- reading ----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport, only alike.
        self.transport = transport  # type: ignore[assignment]
        self.server._conns.add(self)
        if _EAGER and sys.version_info >= (3, 11):  # (the version again: for mypy at 3.10)
            self.context = contextvars.copy_context()
            self.task = self.server.loop.create_task(self._work(), context=self.context)
        else:
            self.task = self.server.loop.create_task(self._work())
        self._arm()

    def data_received(self, data: bytes) -> None:
        server = self.server
        if server.loop.time() >= server._next_drain:
            server._drain_backlog()
        if self.done_reading:
            return
        parser = self.parser
        parser.feed(data)
        try:
            while True:
                event = parser.next()
                if event is None:
                    break
                if event == http1.Parser.HEAD:
                    self._on_head()
                else:
                    if self.over_limit:  # it came whole, without a HEAD event
                        self._admit()
                    done, body = parser.take()
                    if not self.reserved and body:  # it came whole, without a HEAD event
                        if not self.server._reserve(len(body)):
                            raise HTTPError(self._busy(), 503)
                        self.reserved = len(body)
                    request = WireRequest(
                        done.method.decode("latin-1"), done.target.decode("latin-1"),
                        done.headers, body, done.keep_alive)
                    request._reserved = self.reserved
                    self.reserved = 0
                    self.fresh = False
                    if self.context is not None and done.keep_alive and not self.busy \
                            and not self.pending and self.drain_waiter is None \
                            and self.waiter is not None and not self.waiter.done():
                        self._first_step(request)
                    else:
                        self._push(request)
                    if parser.stopped:  # close after it, upgrade or HTTP/1.0
                        self.done_reading = True
                        break
            head = parser.head
            if head is not None and head.chunked and len(parser.body) > self.reserved:
                if not self.server._reserve(len(parser.body) - self.reserved):
                    raise HTTPError(self._busy(), 503)
                self.reserved = len(parser.body)
        except HTTPError as exc:
            self._refuse(exc.status, str(exc), parser.head)
            return
        if len(self.pending) >= _MAX_PIPELINED and not self.reading_paused:
            self.reading_paused = True
            assert self.transport is not None
            self.transport.pause_reading()
        self._arm()

    def _on_head(self) -> None:
        head = self.parser.head
        assert head is not None
        if self.over_limit:
            self._admit()
        need = head.length
        if not self.server._reserve(need):
            raise HTTPError(self._busy(), 503)
        self.reserved = need
        if head.expect_continue:
            # The client waits for this before it sends the body (Go's ExpectContinueTimeout).
            assert self.transport is not None
            self.transport.write(http1.CONTINUE)

    def _admit(self) -> None:
        """A connection accepted past the limit sent a request: a request in hand beats
        a connection that has said nothing, so make room now, else refuse it (503)
        naming the limit."""
        self.server._not_idle(self)
        if not self.server._make_room():
            raise HTTPError(f"Server busy: {self.server.limits.max_connections} connections "
                            "are open (DRP_PLUGIN_MAX_CONNECTIONS); retry later", 503)
        self.over_limit = False

    def _first_step(self, request: WireRequest) -> None:
        """Run ``request`` up to its first suspension here, as the connection's task.

        Most finish in this step and are answered at once.  One that suspends is
        handed to the task (:attr:`resume`), which goes on exactly where it stopped;
        so is what must wait for the write buffer (``after_response``)."""
        server = self.server
        loop = server.loop
        task = self.task
        assert self.context is not None and task is not None
        try:
            _enter_task(loop, task)  # type: ignore[misc]
        except RuntimeError:  # called from inside another task: not the loop's I/O
            self._push(request)
            return
        coro = server._answer(request, self.transport)  # type: ignore[arg-type]
        self.busy = True
        try:
            pending = self.context.run(coro.send, None)
        except StopIteration as stop:
            self._answered(request)
            if request.after_response is not None or stop.value:
                self.resume = (request, None, stop.value)
                self._wake()
            return
        except BaseException:
            self._answered(request)
            raise
        finally:
            _leave_task(loop, task)  # type: ignore[misc]
        self.resume = (request, coro, pending)
        self._wake()

    def _answered(self, request: WireRequest) -> None:
        """``request`` was answered (or failed): free what it held."""
        self.busy = False
        self.server._release(request._reserved)
        request.body = b""

    def _busy(self) -> str:
        return (f"Server busy: requests would hold more than {self.server.limits.max_buffered} "
                "bytes; retry later")

    def _refuse(self, status: int, message: str, head: http1.Head | None = None) -> None:
        self.done_reading = True
        method = head.method.decode("latin-1") if head is not None else ""
        path = head.target.decode("latin-1").partition("?")[0] if head is not None else ""
        self._push(_Refusal(status, message, method, path))
        self._release_partial()
        self.kind = _NONE

    def _push(self, item: _Item) -> None:
        self.pending.append(item)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def eof_received(self) -> bool:
        self.done_reading = True
        self._release_partial()
        self._wake()
        return True  # keep writing: answers of requests already read still go out

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.kind = _NONE
        self.server._not_idle(self)
        self.done_reading = True
        self._release_partial()
        self.server._forget(self)
        self._wake()
        drain = self.drain_waiter
        if drain is not None and not drain.done():
            drain.set_result(None)

    def pause_writing(self) -> None:
        self.drain_waiter = self.server.loop.create_future()

    def resume_writing(self) -> None:
        drain = self.drain_waiter
        self.drain_waiter = None
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _release_partial(self) -> None:
        self.parser.body = b""
        if self.reserved:
            self.server._release(self.reserved)
            self.reserved = 0

    def _arm(self) -> None:
        """Set the read deadline for what the connection is doing now, and whether it
        may be closed to make room (idle between requests, or new and silent)."""
        server = self.server
        limits = server.limits
        if self.done_reading or self.reading_paused:
            self.kind = _NONE
        elif self.parser.head is not None:
            self.kind = _BODY
            self.deadline = server.loop.time() + limits.body_timeout
        elif self.parser.buf or (self.fresh and not self.busy):
            # A head under way, or a new connection's first head, counted from the
            # connection's start: a socket that sends nothing does not hold a slot.
            if self.kind != _HEAD:
                self.kind = _HEAD
                # Past the connection limit, a silent connection is kept only as long
                # as a busy one is protected from being closed for others.
                wait = limits.header_timeout / 10 if self.over_limit else limits.header_timeout
                self.deadline = server.loop.time() + wait
        elif self.busy or self.pending:
            self.kind = _NONE
        else:
            self.kind = _IDLE
            self.deadline = server.loop.time() + limits.idle_timeout
        if self.kind == _IDLE:
            server._idle_since(self, server._keepalive)
        elif self.kind == _HEAD and self.fresh and not self.parser.buf:
            server._idle_since(self, server._silent)
        else:
            server._not_idle(self)

    def expire(self) -> None:
        """The read deadline passed."""
        kind = self.kind
        self.kind = _NONE
        assert self.transport is not None
        self.server._not_idle(self)
        if kind == _IDLE or (kind == _HEAD and self.fresh and not self.parser.buf):
            self.done_reading = True  # nothing was asked: nothing to answer
            self.transport.close()
        elif kind == _HEAD:
            self._refuse(408, "Request timeout: the request head did not arrive within "
                              f"{self.server.limits.header_timeout:g}s")
        elif kind == _BODY:
            self._refuse(408, "Request timeout: no byte of the request body for "
                              f"{self.server.limits.body_timeout:g}s", self.parser.head)

    # -- answering ----------------------------------------------------------------------------
    async def _work(self) -> None:
        server = self.server
        transport = self.transport
        assert transport is not None
        try:
            while True:
                resume = self.resume
                if resume is not None:  # its first step ran in data_received
                    self.resume = None
                    request, coro, pending = resume
                    if coro is None:
                        close = bool(pending)
                    else:
                        try:
                            close = await _resume(coro, pending)
                        finally:
                            self._answered(request)
                    if not await self._after(request, close):
                        return
                    continue
                if self.lost:
                    return  # nobody to answer: requests not started yet are not run
                if not self.pending:
                    if self.done_reading:
                        return
                    self.waiter = server.loop.create_future()
                    await self.waiter
                    self.waiter = None
                    continue
                if self.drain_waiter is not None:
                    await self.drain_waiter
                item = self.pending.popleft()
                if self.reading_paused and len(self.pending) < _MAX_PIPELINED // 2 \
                        and not self.lost:
                    self.reading_paused = False
                    transport.resume_reading()
                if isinstance(item, _Refusal):
                    body = error_body(item.status, item.message, type=item.method, key=item.path)
                    transport.write(encode_response(item.status, encode_json(body),
                                                    server._date.get(), close=True))
                    return
                self.busy = True
                try:
                    close = await server._answer(item, transport)
                finally:
                    self._answered(item)
                if not await self._after(item, close):
                    return
        finally:
            transport.close()
            self.task = None

    async def _after(self, request: WireRequest, close: bool) -> bool:
        """Once ``request`` was answered: wait for the write buffer, run its
        ``after_response``; False when the connection ends here."""
        if self.drain_waiter is not None:
            await self.drain_waiter
        if request.after_response is not None:
            request.after_response()
        if close or self.lost:
            return False
        self._arm()
        return True


class UnixHTTPServer:
    """Serve ``app`` on the unix socket ``path`` (mode 0600, stale file removed)."""

    def __init__(self, path: str, app: RouteHandler, *, max_body: int = DEFAULT_MAX_BODY,
                 limits: ServerLimits | None = None) -> None:
        self.path = path
        self.app = app
        self.limits = limits if limits is not None else ServerLimits(max_body=max_body)
        self.max_body = self.limits.max_body
        self.in_flight = 0
        self.buffered = 0
        #: How often accept() ran out of file descriptors (or memory).
        self.accept_failures = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.loop = asyncio.get_event_loop()
        self._sock: socket.socket | None = None
        self._conns: set[_Connection] = set()
        self._backlog = 128
        # Accepted descriptors not set up yet, and whether a batch is scheduled.
        self._accepted: collections.deque[int] = collections.deque()
        self._opener_scheduled = False
        self._next_drain = 0.0
        # Connections that may be closed to make room, oldest first (dicts keep order):
        # idle between requests, and new ones that sent nothing yet.
        self._keepalive: dict[_Connection, float] = {}
        self._silent: dict[_Connection, float] = {}
        self._accepting = False
        self._opening = 0
        self._backoff = 0.0
        self._retry: asyncio.TimerHandle | None = None
        self._trim: asyncio.TimerHandle | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._date = DateCache()

    @property
    def connections(self) -> int:
        """Connections open now."""
        return len(self._conns)

    async def start(self) -> None:
        """Bind the socket (0600, created so: no window for others) and start accepting."""
        self.loop = asyncio.get_running_loop()
        if os.path.lexists(self.path):
            os.unlink(self.path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(self.path)
        except BaseException:
            sock.close()
            raise
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        self._backlog = listen_backlog()
        sock.listen(self._backlog)
        sock.setblocking(False)
        self._sock = sock
        self._resume_accepting()
        self._tasks = [self.loop.create_task(self._sweep(), name="drp-read-timeouts")]

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is being handled; False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except asyncio.TimeoutError:  # noqa: UP041 (not TimeoutError on Python 3.9)
            return False

    async def close(self) -> None:
        """Stop accepting, close connections, and remove the socket file (never waits)."""
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        self._pause_accepting()
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        while self._accepted:
            os.close(self._accepted.popleft())
        for conn in list(self._conns):
            if conn.transport is not None:
                conn.transport.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    # -- accepting ------------------------------------------------------------------------------
    def _accept(self) -> None:
        """The listening socket is readable: drain the backlog (up to its size) before
        setting any connection up, so a burst of dials finds room there.  ``_accept``
        gives the descriptor without a socket object: 1.7 us a connection, where
        ``accept()`` takes 7.5, and Go's dial fails at once on a full backlog."""
        sock = self._sock
        if sock is None:
            return
        raw_accept = getattr(sock, "_accept", None)
        accepted = self._accepted
        for _ in range(self._backlog):
            try:
                fd = raw_accept()[0] if raw_accept is not None else sock.accept()[0].detach()
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    self._accept_failed(exc)
                    break
                continue  # ECONNABORTED and friends: that peer is gone; try the next
            if self._backoff:
                print(f"drp-plugin: accepting connections on {self.path} again "
                      f"({self.accept_failures} failed accepts)", file=sys.stderr, flush=True)
                self._backoff = 0.0
            accepted.append(fd)
        if accepted and not self._opener_scheduled:
            self._opener_scheduled = True
            self.loop.call_soon(self._open_accepted)

    def _drain_backlog(self) -> None:
        self._next_drain = self.loop.time() + _DRAIN_EVERY
        if self._accepting:
            self._accept()

    def _open_accepted(self) -> None:
        """Set up accepted connections, a batch at a time (the accept reader runs between
        batches)."""
        self._opener_scheduled = False
        accepted = self._accepted
        for _ in range(min(len(accepted), 256)):
            fd = accepted.popleft()
            try:
                client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, fd)
                client.setblocking(False)
            except OSError:
                os.close(fd)
                continue
            # At the limit: a new connection whose request may not have been read yet is
            # not closed for this one (it must have been silent a tenth of the header
            # timeout); else this one is over the limit until its head arrives.
            over = len(self._conns) + self._opening >= self.limits.max_connections \
                and not self._make_room(self.limits.header_timeout / 10)
            self._opening += 1
            self.loop.create_task(self._open(client, over))
        if accepted:
            self._opener_scheduled = True
            self.loop.call_soon(self._open_accepted)

    def _make_room(self, min_silence: float = 0.0) -> bool:
        """Close the longest-idle keep-alive connection, else the longest-silent new one
        if it has been silent ``min_silence`` seconds; False when none may go."""
        for idle in (self._keepalive, self._silent):
            if idle:
                conn = next(iter(idle))
                if idle is self._silent and self.loop.time() - idle[conn] < min_silence:
                    continue
                self._not_idle(conn)
                self._conns.discard(conn)
                conn.kind = _NONE
                conn.done_reading = True
                if conn.transport is not None:
                    conn.transport.close()
                return True
        return False

    def _idle_since(self, conn: _Connection, idle: dict[_Connection, float]) -> None:
        if conn not in idle:
            self._not_idle(conn)
            idle[conn] = self.loop.time()

    def _not_idle(self, conn: _Connection) -> None:
        self._keepalive.pop(conn, None)
        self._silent.pop(conn, None)

    def _make_connection(self, over: bool) -> _Connection:
        conn = _Connection(self)
        conn.over_limit = over
        return conn

    async def _open(self, client: socket.socket, over: bool = False) -> None:
        try:
            await self.loop.connect_accepted_socket(lambda: self._make_connection(over), client)
        except OSError:
            client.close()
        finally:
            self._opening -= 1

    def _accept_failed(self, exc: OSError) -> None:
        """Out of file descriptors or memory: stop accepting for a while (10 ms doubling
        to 1 s) and say so once per episode on stderr, never through logging (whose
        lines would become a storm of /log posts)."""
        self.accept_failures += 1
        if not self._backoff:
            print(f"drp-plugin: cannot accept connections on {self.path}: "
                  f"{os.strerror(exc.errno or 0)}; retrying with backoff",
                  file=sys.stderr, flush=True)
        self._backoff = min(max(self._backoff * 2, 0.01), 1.0)
        self._pause_accepting()
        self._retry = self.loop.call_later(self._backoff, self._resume_accepting)

    def _pause_accepting(self) -> None:
        if self._accepting and self._sock is not None:
            self.loop.remove_reader(self._sock.fileno())
        self._accepting = False

    def _resume_accepting(self) -> None:
        self._retry = None
        if not self._accepting and self._sock is not None:
            self._accepting = True
            self.loop.add_reader(self._sock.fileno(), self._accept)

    def _forget(self, conn: _Connection) -> None:
        self._conns.discard(conn)
        if not self._accepting and self._retry is None:
            self._resume_accepting()

    async def _sweep(self) -> None:
        limits = self.limits
        interval = max(0.05, min(1.0, limits.header_timeout / 4, limits.body_timeout / 4,
                                 limits.idle_timeout / 4))
        while True:
            await asyncio.sleep(interval)
            now = self.loop.time()
            for conn in list(self._conns):
                if conn.kind != _NONE and now >= conn.deadline:
                    conn.expire()

    # -- the byte budget -------------------------------------------------------------------------
    def _reserve(self, n: int) -> bool:
        if n and self.buffered + n > self.limits.max_buffered:
            return False
        self.buffered += n
        return True

    def _release(self, n: int) -> None:
        self.buffered -= n
        if n >= _TRIM_AFTER and self._trim is None:
            # Large bodies were freed: hand the memory back to the OS soon (once for many).
            self._trim = self.loop.call_later(0.1, self._give_back)

    def _give_back(self) -> None:
        self._trim = None
        _malloc_trim()

    # -- answering ---------------------------------------------------------------------------------
    async def _answer(self, request: WireRequest, transport: asyncio.Transport) -> bool:
        """Run the app for ``request`` and write its response; True to close after it."""
        self.in_flight += 1
        self._idle.clear()
        try:
            try:
                status, body = await self.app(request)
            except Exception as exc:  # the app's own safety net failed
                status, body = 500, panic_body(exc, request.method, request.path)
            status, payload = reply_payload(status, body, request)
            close = not request.keep_alive
            transport.write(encode_response(status, payload, self._date.get(), close=close,
                                            head_only=request.method == "HEAD"))
            return close
        finally:
            self.in_flight -= 1
            if self.in_flight == 0:
                self._idle.set()
