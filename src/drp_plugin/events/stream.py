"""DRP's websocket event stream, shared by any number of subscriptions.

One websocket carries the union of all subscriptions' filters: each filter is
registered once on the wire and deregistered when its last subscription closes.
Every event goes to each subscription with a matching filter, in order, through
that subscription's bounded queue.  Nothing is dropped: while a queue is full the
stream stops reading the websocket (TCP backpressure reaches the server) until the
subscriber catches up.  A lost connection is re-established with exponential
backoff and every filter registered again; events the server published while no
connection existed are not replayed (DRP keeps no history).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Optional, TypeVar

from websockets.asyncio.client import ClientConnection, connect, unix_connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from ..api.session import ssl_context
from ..errors import PluginError
from ..models import Event, make_event
from .matching import Pattern, topic_pattern

if TYPE_CHECKING:
    from ..api.client import AsyncClient

__all__ = ["EventStream", "StreamClosed", "Subscription", "wait_for"]

log = logging.getLogger("drp_plugin.events")

T = TypeVar("T")
Handler = Callable[[Event], Optional[Awaitable[None]]]  # noqa: UP045 - runs on 3.9

#: Largest event accepted (DRP objects with many params can be big).
MAX_EVENT_SIZE = 64 * 1024 * 1024
#: Action of the notice every subscription gets after a reconnection (``websocket.gap.<n>``).
GAP_ACTION = "gap"


class StreamClosed(Exception):
    """Raised by ``Subscription.get()`` once the subscription has ended."""


class _Mailbox(Generic[T]):
    """A bounded FIFO whose ``put`` waits for room: nothing is ever dropped."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("queue size must be at least 1")
        self._items: deque[T] = deque()
        self._maxsize = maxsize
        self._changed = asyncio.Condition()
        self._ended = False  # no more items; what is queued can still be read
        self._discarded = False  # closed by its reader: queued items are gone
        self._error: BaseException | None = None

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, item: T) -> None:
        """Queue ``item``, waiting while full (returns at once if closed)."""
        async with self._changed:
            await self._changed.wait_for(
                lambda: self._ended or self._discarded or len(self._items) < self._maxsize
            )
            if not (self._ended or self._discarded):
                self._items.append(item)
                self._changed.notify_all()

    async def get(self) -> T:
        """The next item; :class:`StreamClosed` (or the end's error) after the end."""
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._items) or self._ended or self._discarded)
            if self._items and not self._discarded:
                item = self._items.popleft()
                self._changed.notify_all()
                return item
        if self._error is not None and not self._discarded:
            raise self._error
        raise StreamClosed("subscription closed")

    async def end(self, error: BaseException | None = None) -> None:
        """No more items: readers get what is queued, then the end."""
        async with self._changed:
            self._ended = True
            self._error = error
            self._changed.notify_all()

    async def discard(self) -> None:
        """Close for good, dropping what is queued (the reader is gone)."""
        async with self._changed:
            self._discarded = True
            self._items.clear()
            self._changed.notify_all()


class Subscription:
    """Events matching some filters; iterate it (``async for``) or ``await get()``.

    Iteration stops when the subscription or its stream is closed (after the queued
    events); it raises ``ConnectionError`` if the stream gave up reconnecting.
    """

    def __init__(self, stream: EventStream, patterns: tuple[Pattern, ...], queue_size: int) -> None:
        self.stream = stream
        self._patterns = patterns
        self._mailbox: _Mailbox[Event] = _Mailbox(queue_size)
        self._handler_task: asyncio.Task[None] | None = None
        self.closed = False

    @property
    def patterns(self) -> tuple[str, ...]:
        """This subscription's filters (``type.action.key``)."""
        return tuple(p.text for p in self._patterns)

    @property
    def pending(self) -> int:
        """Events received and not read yet."""
        return len(self._mailbox)

    def matches(self, event: Event) -> bool:
        """Whether one of this subscription's filters matches ``event``."""
        return any(p.matches(event) for p in self._patterns)

    async def get(self) -> Event:
        """The next event; raises :class:`StreamClosed` once the subscription ended."""
        return await self._mailbox.get()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self._mailbox.get()
        except StreamClosed:
            raise StopAsyncIteration from None

    async def close(self) -> None:
        """Stop receiving: drops queued events and deregisters filters no one else uses."""
        if self.closed:
            return
        self.closed = True
        await self._mailbox.discard()
        await self.stream._release(self)
        task = self._handler_task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"Subscription({', '.join(self.patterns)})"


class _Registration:
    """One filter on the wire: how many subscriptions use it, whether DRP acknowledged it."""

    __slots__ = ("users", "acknowledged")

    def __init__(self) -> None:
        self.users = 0
        self.acknowledged = asyncio.Event()


class EventStream:
    """The event stream of the API ``client``: ``await stream.subscribe("machines.*.*")``.

    It connects on first use.  ``queue_size`` bounds each subscription's queue;
    reconnection waits ``backoff`` seconds, doubling up to ``max_backoff``, and
    gives up after ``max_reconnects`` failed attempts (never, by default).
    ``ping_interval`` is off by default: a subscriber that keeps its queue full for
    longer than the ping timeout would otherwise make the connection look dead.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        queue_size: int = 100,
        ack_timeout: float = 30.0,
        backoff: float = 0.1,
        max_backoff: float = 5.0,
        max_reconnects: int | None = None,
        ping_interval: float | None = None,
    ) -> None:
        self.client = client
        self.queue_size = queue_size
        self.ack_timeout = ack_timeout
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_reconnects = max_reconnects
        self.ping_interval = ping_interval
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._connecting = asyncio.Lock()
        self._registrations: dict[str, _Registration] = {}
        self._unacknowledged: Counter[str] = Counter()
        self._wire: set[str] = set()  # filters registered on the current connection
        self._subscriptions: list[Subscription] = []
        self._closed = False
        #: How many times the connection was re-established.
        self.reconnects = 0

    @property
    def connected(self) -> bool:
        return self._ws is not None

    # -- public ---------------------------------------------------------------------------------
    async def connect(self) -> None:
        """Open the websocket (done by the first ``subscribe`` otherwise)."""
        async with self._connecting:
            if self._closed:
                raise StreamClosed("event stream closed")
            if self._reader is None:
                self._ws = await self._open()
                self._reader = asyncio.create_task(self._read_forever(), name="drp-events")

    async def subscribe(
        self, *patterns: str, queue_size: int | None = None, handler: Handler | None = None
    ) -> Subscription:
        """Receive events matching any of ``patterns`` once DRP acknowledged them.

        (The acknowledgement comes through the stream: while another subscription's
        queue is full it waits until that subscription is read.)

        With ``handler`` (a function or coroutine function of the event), a task feeds
        it every event in order; closing the subscription stops it.
        """
        parsed = tuple(Pattern(p) for p in dict.fromkeys(p.strip() for p in patterns))
        if not parsed:
            raise ValueError("subscribe needs at least one filter")
        await self.connect()
        subscription = Subscription(self, parsed, queue_size or self.queue_size)
        self._subscriptions.append(subscription)
        registrations = []
        for pattern in subscription.patterns:  # all bookkeeping first: close() undoes it
            registration = self._registrations.setdefault(pattern, _Registration())
            registration.users += 1
            registrations.append(registration)
        try:
            for pattern in subscription.patterns:
                await self._register(pattern)
            await asyncio.wait_for(  # (asyncio.timeout is 3.11+)
                asyncio.gather(*(r.acknowledged.wait() for r in registrations)), self.ack_timeout)
        except BaseException:
            await subscription.close()
            raise
        if handler is not None:
            subscription._handler_task = asyncio.create_task(_feed(subscription, handler))
        return subscription

    async def registered(self) -> None:
        """Wait until DRP acknowledged every filter on the current connection
        (after a reconnection: until they are all registered again)."""
        await asyncio.gather(*(r.acknowledged.wait() for r in self._registrations.values()))

    async def close(self) -> None:
        """Close the websocket; subscriptions end after their queued events."""
        self._closed = True
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()
        subscriptions, self._subscriptions = self._subscriptions, []
        self._registrations.clear()
        for subscription in subscriptions:
            await subscription._mailbox.end()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"EventStream({self.client.endpoint!r}, subscriptions={len(self._subscriptions)})"

    # -- wire -----------------------------------------------------------------------------------
    async def _open(self) -> ClientConnection:
        settings = self.client.settings
        options: dict[str, Any] = {
            "additional_headers": {"Authorization": await self.client.authorization()},
            "ping_interval": self.ping_interval,
            "max_size": MAX_EVENT_SIZE,
        }
        url = settings.websocket_url
        if settings.local_proxy:
            return await unix_connect(settings.local_proxy, url, **options)
        if url.startswith("wss:"):
            options["ssl"] = ssl_context(settings.verify)
        return await connect(url, **options)

    async def _register(self, pattern: str) -> None:
        """Register ``pattern`` on the current connection unless it already is there.

        Without a connection nothing is sent: reconnecting registers every filter.
        """
        ws = self._ws
        if ws is None or pattern in self._wire or pattern not in self._registrations:
            return
        self._wire.add(pattern)
        self._unacknowledged[pattern] += 1
        with contextlib.suppress(ConnectionClosed):
            await ws.send(f"register {pattern}")

    async def _deregister(self, pattern: str) -> None:
        ws = self._ws
        if ws is None or pattern not in self._wire:
            return
        self._wire.discard(pattern)
        with contextlib.suppress(ConnectionClosed):
            await ws.send(f"deregister {pattern}")

    async def _release(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
        for pattern in subscription.patterns:
            registration = self._registrations.get(pattern)
            if registration is None:
                continue
            registration.users -= 1
            if registration.users <= 0:
                del self._registrations[pattern]
                await self._deregister(pattern)

    def _acknowledge(self, event: Event) -> None:
        pattern = event.key.strip()
        if event.action != "register" or self._unacknowledged[pattern] <= 0:
            return
        self._unacknowledged[pattern] -= 1
        registration = self._registrations.get(pattern)
        if registration is not None and self._unacknowledged[pattern] == 0:
            registration.acknowledged.set()

    async def _dispatch(self, message: str | bytes) -> None:
        try:
            event = Event(json.loads(message))
        except (ValueError, TypeError) as exc:
            log.warning("Ignoring a message of the event stream that is no event: %s", exc)
            return
        if event.type == "websocket" and event.action in ("register", "deregister"):
            self._acknowledge(event)
            return
        for subscription in list(self._subscriptions):
            if subscription.matches(event):
                await subscription._mailbox.put(event)  # waits while full: backpressure

    async def _read_forever(self) -> None:
        try:
            await self._read_and_reconnect()
        except Exception as exc:  # a bug must end the subscriptions, not hang them
            log.exception("Event stream to %s failed", self.client.endpoint)
            await self._give_up(exc)

    async def _read_and_reconnect(self) -> None:
        while True:
            ws = self._ws
            if ws is not None:
                reason = "closed by the server"
                try:
                    async for message in ws:
                        await self._dispatch(message)
                except (ConnectionClosed, OSError) as exc:
                    reason = str(exc) or type(exc).__name__
                self._ws = None
                self._wire.clear()
                for registration in self._registrations.values():
                    registration.acknowledged.clear()
                log.warning("Event stream to %s lost (%s); reconnecting", self.client.endpoint, reason)
                lost_at = time.monotonic()
            if not await self._reconnect():
                return
            if ws is not None:
                await self._report_gap(reason, time.monotonic() - lost_at)

    async def _reconnect(self) -> bool:
        delay, attempt = self.backoff, 0
        while True:
            attempt += 1
            try:
                ws = await self._open()
            except (OSError, WebSocketException, PluginError, TimeoutError) as exc:
                if self.max_reconnects is not None and attempt >= self.max_reconnects:
                    log.warning("Event stream to %s: giving up after %d attempts: %s",
                                self.client.endpoint, attempt, exc)
                    await self._give_up(ConnectionError(f"event stream lost: {exc}"))
                    return False
                log.warning("Event stream to %s: reconnect attempt %d failed (%s); retrying in %.1fs",
                            self.client.endpoint, attempt, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
                continue
            self._ws, self._wire, self._unacknowledged = ws, set(), Counter()
            patterns = list(self._registrations)
            for pattern in patterns:
                await self._register(pattern)
            self.reconnects += 1
            log.warning("Event stream to %s reconnected; registered again: %s",
                        self.client.endpoint, ", ".join(patterns) or "nothing")
            return True

    async def _report_gap(self, reason: str, seconds: float) -> None:
        """Tell every subscription that events may have been missed (DRP cannot replay).

        The notice is an event ``websocket.gap.<reconnects>`` whose Object says why
        and for how long the stream was down; it is queued like any event, in order.
        """
        notice = Event(make_event("websocket", GAP_ACTION, str(self.reconnects),
                                  {"Reason": reason, "Seconds": round(seconds, 3),
                                   "Reconnects": self.reconnects}))
        for subscription in list(self._subscriptions):
            await subscription._mailbox.put(notice)

    async def _give_up(self, error: BaseException) -> None:
        self._closed = True
        self._reader = None
        subscriptions, self._subscriptions = self._subscriptions, []
        self._registrations.clear()
        for subscription in subscriptions:
            await subscription._mailbox.end(error)


async def _feed(subscription: Subscription, handler: Handler) -> None:
    async for event in subscription:
        try:
            result = handler(event)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("Event handler failed on %s", event.topic)


async def wait_for(
    source: AsyncClient | EventStream,
    prefix: str,
    key: str,
    predicate: Callable[[dict[str, Any]], bool],
    timeout: float,
) -> dict[str, Any]:
    """Wait until ``predicate(object)`` holds for the object ``prefix``/``key``.

    Subscribes to ``<prefix>.*.<key>``, checks the current object, then each object
    its events carry; returns the object that satisfied ``predicate``.  Raises
    ``TimeoutError`` after ``timeout`` seconds.  ``key`` must be the object's real
    key (events carry it, not index lookups such as ``Name:x``).
    """
    stream = source if isinstance(source, EventStream) else EventStream(source)

    async def watch() -> dict[str, Any]:
        async with await stream.subscribe(topic_pattern(prefix, "*", key)) as subscription:
            obj = await stream.client.get(prefix, key)
            if predicate(obj):
                return obj
            async for event in subscription:
                if isinstance(event.object, dict):
                    obj = event.object
                else:
                    obj = await stream.client.get(prefix, key)
                if predicate(obj):
                    return obj
        raise StreamClosed(f"event stream closed while waiting for {prefix}/{key}")

    try:
        return await asyncio.wait_for(watch(), timeout)  # (asyncio.timeout is 3.11+)
    except (asyncio.TimeoutError, TimeoutError):  # noqa: UP041 - distinct before 3.11
        raise TimeoutError(f"{prefix}/{key}: condition not met within {timeout}s") from None
    finally:
        if stream is not source:
            await stream.close()
