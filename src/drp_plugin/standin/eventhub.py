"""Event fan-out: every published event is recorded and sent to each matching subscriber.

Delivery to a subscriber is ordered: events go into a queue per connection, and
one writer task awaits each send in turn.  The queue is bounded in bytes
(``max_queue_bytes``): a client that falls further behind is disconnected (close
code 1008), so it sees a gap and reconnects, instead of the stand-in growing
without bound.  The recorded history (``EventHub.events``) keeps the newest
events within a count and a byte budget; ``dropped`` counts the ones let go.
Filters match as in :mod:`drp_plugin.events.matching` (docs/protocol.md section 4).
A subscriber with restricted claims (a machine token, a narrowed token) gets an
event only when its claims allow the event's ``Type Action Key``, as DRP's websocket
does (frontend/websocket.go ``wsFilterFunction``: ``matchClaim(MakeRole("", e.Type,
e.Action, e.Key))``): a token for machine A never sees machine B's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .._types import Obj
from ..events.matching import Pattern
from ..models import make_event
from .claims import EVERYTHING, Claim, allowed

log = logging.getLogger(__name__)


class _Topic:
    """The ``type``/``action``/``key`` view of an event dict that ``Pattern`` matches."""

    __slots__ = ("type", "action", "key")

    def __init__(self, event: Obj) -> None:
        self.type, self.action, self.key = (
            str(event.get(f) if event.get(f) is not None else "")
            for f in ("Type", "Action", "Key")
        )


class Subscriber:
    """One receiver of events: its registrations and its ordered send queue.

    A websocket connection registers filters; ``accept`` (a plugin with
    ``HasPublish``) replaces them with a test of its own.
    """

    def __init__(self, send: Callable[[str], Awaitable[None]],
                 close: Callable[[], Awaitable[Any]], principal: str = "",
                 accept: Callable[[Obj], bool] | None = None,
                 max_queue_bytes: int | None = None,
                 on_overflow: Callable[[int], None] | None = None,
                 claims: tuple[Claim, ...] = EVERYTHING) -> None:
        self.principal = principal
        #: What the connection's token may see: an event goes out only when these
        #: claims allow its ``Type Action Key``.
        self.claims = claims
        self.max_queue_bytes = max_queue_bytes
        #: Called with the size of each frame dropped past ``max_queue_bytes`` instead of
        #: closing the connection (a plugin's ``/publish`` feed cannot reconnect).
        self.on_overflow = on_overflow
        #: Frames dropped that way.
        self.dropped = 0
        #: Bytes of the frames queued and not yet sent.
        self.queued_bytes = 0
        #: True once the subscriber was cut off for being too slow.
        self.overflowed = False
        self.accept = accept
        self.filters: dict[str, Pattern | None] = {}
        self._send = send
        self._close = close
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write())
        self._closer: asyncio.Task[Any] | None = None

    def register(self, text: str) -> None:
        """Add the ``type.action.key`` filter ``text``; an invalid pattern is kept (and
        acknowledged, as DRP does) but never matches."""
        try:
            self.filters[text] = Pattern(text)
        except ValueError:  # acknowledged like DRP does, but it can never match
            self.filters[text] = None

    def wants(self, event: Obj) -> bool:
        """Whether ``event`` goes to this subscriber: the ``accept`` test when set, else
        whether any registered filter matches it."""
        if self.accept is not None:
            return self.accept(event)
        if not self.filters:
            return False
        topic = _Topic(event)
        if not any(p is not None and p.matches(topic) for p in self.filters.values()):
            return False
        return self.claims is EVERYTHING or allowed(self.claims, topic.type, topic.action,
                                                    topic.key)

    def push(self, text: str) -> None:
        """Queue one frame; past ``max_queue_bytes`` the connection is closed instead."""
        if self.overflowed:
            return
        size = len(text)
        if self.max_queue_bytes is not None and self.queued_bytes + size > self.max_queue_bytes:
            if self.on_overflow is not None:
                self.dropped += 1
                self.on_overflow(size)
                return
            self.overflowed = True
            self._drain()
            log.warning("event stream client %s is more than %d bytes behind: disconnected",
                        self.principal or "?", self.max_queue_bytes)
            self._closer = asyncio.create_task(self._close_slow())
            return
        self.queued_bytes += size
        self._queue.put_nowait(text)

    def _drain(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
        self.queued_bytes = 0

    async def _close_slow(self) -> None:
        self._writer.cancel()
        await self._close()

    def acknowledge(self, action: str, pattern: str) -> None:
        """Queue the ``websocket`` event that answers a ``register``/``deregister``
        (``Action`` = ``action``, ``Key`` = ``pattern``)."""
        ack = make_event("websocket", action, pattern, None)
        ack.update(Principal="", Original=None)
        self.push(json.dumps(ack))

    async def _write(self) -> None:
        while True:
            text = await self._queue.get()
            self.queued_bytes -= len(text)
            try:
                await self._send(text)
            except (ConnectionError, RuntimeError) as exc:
                log.info("event stream closed while sending: %s", exc)
                return

    async def close(self) -> None:
        """Close the connection (the peer sees a going-away close)."""
        await self._close()

    async def stop(self) -> None:
        """Stop the writer (after the connection ended)."""
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        self._drain()


class EventHub:
    """Records events, fans them out to subscribers and wakes waiters."""

    def __init__(self, max_events: int = 100_000, max_event_bytes: int = 64 * 1024 * 1024,
                 max_queue_bytes: int | None = 16 * 1024 * 1024) -> None:
        #: The newest recorded events, oldest first.
        self.events: list[Obj] = []
        #: How many recorded events were let go (the index of ``events[0]``).
        self.dropped = 0
        #: JSON bytes of the events in ``events``.
        self.history_bytes = 0
        self.max_events = max_events
        self.max_event_bytes = max_event_bytes
        #: Per-connection queue bound handed to :meth:`subscribe`.
        self.max_queue_bytes = max_queue_bytes
        self._sizes: list[int] = []
        self.subscribers: set[Subscriber] = set()
        self._waiters: list[tuple[Callable[[Obj], bool], asyncio.Future[Obj]]] = []

    @property
    def next_index(self) -> int:
        """The index the next published event gets (for ``wait_for(since=...)``)."""
        return self.dropped + len(self.events)

    def subscribe(self, send: Callable[[str], Awaitable[None]],
                  close: Callable[[], Awaitable[Any]], principal: str = "",
                  claims: tuple[Claim, ...] = EVERYTHING) -> Subscriber:
        """A new event-stream subscriber with this hub's queue bound, seeing only the
        events ``claims`` allow."""
        sub = Subscriber(send, close, principal, max_queue_bytes=self.max_queue_bytes,
                         claims=claims)
        self.subscribers.add(sub)
        return sub

    def _record(self, event: Obj, size: int) -> None:
        self.events.append(event)
        self._sizes.append(size)
        self.history_bytes += size
        cut = 0
        while cut < len(self.events) - 1 and (
                len(self.events) - cut > self.max_events
                or self.history_bytes > self.max_event_bytes):
            self.history_bytes -= self._sizes[cut]
            cut += 1
        if cut:
            del self.events[:cut]
            del self._sizes[:cut]
            self.dropped += cut

    def publish(self, event: Obj) -> None:
        """Record ``event`` in the bounded history, queue it for every subscriber that wants
        it and wake the :meth:`wait_for` callers it matches."""
        text = json.dumps(event, default=str)
        self._record(event, len(text))
        for sub in list(self.subscribers):
            if sub.wants(event):
                sub.push(text)
        for waiter in list(self._waiters):
            test, future = waiter
            if not future.done() and test(event):
                future.set_result(event)
                self._waiters.remove(waiter)

    async def wait_for(self, pattern: str | Callable[[Obj], bool], timeout: float = 10.0,
                       since: int = 0) -> Obj:
        """The first event at index >= ``since`` matching ``pattern`` (waits if needed).

        Indexes count every event published (see :attr:`next_index`); events that left
        the bounded history are not searched.
        """
        if callable(pattern):
            test = pattern
        else:
            parsed = Pattern(pattern)
            test = lambda e: parsed.matches(_Topic(e))  # noqa: E731
        for event in self.events[max(0, since - self.dropped):]:
            if test(event):
                return event
        future: asyncio.Future[Obj] = asyncio.get_running_loop().create_future()
        waiter = (test, future)
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    async def close_all(self) -> None:
        """Close every event-stream connection."""
        for sub in list(self.subscribers):
            await sub.close()
