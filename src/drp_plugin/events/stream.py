"""DRP's websocket event stream, shared by any number of subscriptions.

One websocket carries the union of all subscriptions' filters: each filter is
registered once on the wire and deregistered when its last subscription closes.
Every event goes to each subscription with a matching filter, in order, through
that subscription's bounded queue.  Nothing is dropped: while a queue is full the
stream stops reading the websocket (TCP backpressure reaches the server) until the
subscriber catches up.  A lost connection is re-established with exponential
backoff and every filter registered again; events the server published while no
connection existed are not replayed (DRP keeps no history).

Limits (constructor arguments; a provider under ``listen`` gets them from its
``DRP_PLUGIN_EVENT_*`` settings, :class:`~drp_plugin.protocol.settings.ListenSettings`):

- ``max_event_bytes`` (``DRP_PLUGIN_EVENT_MAX_BYTES``, 64 MiB): the largest
  message accepted (the websocket's ``max_size``); a larger one closes the
  connection, which is re-established and announced as a gap.
- ``max_pending_bytes`` (``DRP_PLUGIN_EVENT_PENDING_BYTES``, 16 MiB) and
  ``queue_size`` (100 events): what one subscription holds unread, counted as
  the JSON text of its events; beyond either, reading stops (backpressure).
- ``ws_queue`` (``DRP_PLUGIN_EVENT_WS_QUEUE``, 4 frames): the websocket
  library's own receive buffer (its ``max_queue``), each frame at most
  ``max_event_bytes``.
- ``max_backoff`` (``DRP_PLUGIN_EVENT_MAX_BACKOFF``, 5 s) and ``stable_after``
  (``DRP_PLUGIN_EVENT_STABLE_AFTER``, 10 s): reconnection waits grow (with
  jitter) up to ``max_backoff`` and only start small again once a connection
  stayed up ``stable_after`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Optional, TypeVar

from websockets.asyncio.client import ClientConnection, connect, unix_connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, WebSocketException

from ..errors import PluginError, StreamClosed
from ..models import Event, make_event
from .matching import ANY, Pattern, topic_pattern

if TYPE_CHECKING:
    from ..api.client import AsyncClient

__all__ = ["EventCallback", "EventStream", "Subscription", "wait_for"]

log = logging.getLogger("drp_plugin.events")

T = TypeVar("T")
#: What ``subscribe(handler=...)`` takes: a function or coroutine function of the event.
EventCallback = Callable[[Event], Optional[Awaitable[None]]]  # noqa: UP045 - runs on 3.9

#: Largest event accepted (DRP objects with many params can be big).
MAX_EVENT_SIZE = 64 * 1024 * 1024
#: Bytes of events (their JSON text) one subscription holds unread at most.
PENDING_BYTES = 16 * 1024 * 1024
#: Frames the websocket library buffers before it stops reading the socket.
WS_QUEUE = 4
#: Seconds between reconnection attempts at most, and how long a connection must
#: stay up before the wait starts small again.
MAX_BACKOFF, STABLE_AFTER = 5.0, 10.0
#: Seconds between two warnings of the same kind (the rest are counted).
WARN_INTERVAL = 30.0

def _positive(name: str, value: Any, kind: type) -> Any:
    if not value > 0:  # also refuses NaN
        raise ValueError(f"{name} must be more than 0, not {value!r}")
    return kind(value)


class _Throttle:
    """At most one log line per ``interval`` seconds; the ones held back are counted."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: float | None = None
        self.suppressed = 0

    def allow(self) -> int | None:
        """``None`` to stay silent, else how many lines were held back since the last one."""
        now = time.monotonic()
        if self._last is not None and now - self._last < self.interval:
            self.suppressed += 1
            return None
        self._last, held = now, self.suppressed
        self.suppressed = 0
        return held


def _held(count: int) -> str:
    return f" ({count} similar warning(s) held back)" if count else ""
#: Action of the notice every subscription gets after a reconnection (``websocket.gap.<n>``).
GAP_ACTION = "gap"




class _Mailbox(Generic[T]):
    """A FIFO bounded in items and in bytes whose ``put`` waits for room: nothing is
    ever dropped.  An item larger than ``max_bytes`` still fits in an empty mailbox."""

    def __init__(self, maxsize: int, max_bytes: int) -> None:
        if maxsize < 1 or max_bytes < 1:
            raise ValueError("queue size and bytes must be at least 1")
        self._items: deque[tuple[T, int]] = deque()
        self._maxsize = maxsize
        self._max_bytes = max_bytes
        self.bytes = 0
        self._changed = asyncio.Condition()
        self._ended = False  # no more items; what is queued can still be read
        self._discarded = False  # closed by its reader: queued items are gone
        self._error: BaseException | None = None

    def __len__(self) -> int:
        return len(self._items)

    def _room(self, size: int) -> bool:
        return not self._items or (len(self._items) < self._maxsize
                                   and self.bytes + size <= self._max_bytes)

    async def put(self, item: T, size: int = 0) -> None:
        """Queue ``item`` of ``size`` bytes, waiting while full (returns at once if closed)."""
        async with self._changed:
            await self._changed.wait_for(
                lambda: self._ended or self._discarded or self._room(size)
            )
            if not (self._ended or self._discarded):
                self._items.append((item, size))
                self.bytes += size
                self._changed.notify_all()

    async def get(self) -> T:
        """The next item; :class:`StreamClosed` (or the end's error) after the end."""
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._items) or self._ended or self._discarded)
            if self._items and not self._discarded:
                item, size = self._items.popleft()
                self.bytes -= size
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
            self.bytes = 0
            self._changed.notify_all()


class Subscription:
    """Events matching some filters; iterate it (``async for``) or ``await get()``.

    Iteration stops when the subscription or its stream is closed (after the queued
    events); it raises ``ConnectionError`` if the stream gave up reconnecting.
    """

    def __init__(self, stream: EventStream, patterns: tuple[Pattern, ...], queue_size: int,
                 max_pending_bytes: int) -> None:
        self.stream = stream
        self._patterns = patterns
        self._mailbox: _Mailbox[Event] = _Mailbox(queue_size, max_pending_bytes)
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

    @property
    def pending_bytes(self) -> int:
        """Bytes (of JSON text) of the events received and not read yet."""
        return self._mailbox.bytes

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

    It connects on first use.  Each subscription holds at most ``queue_size``
    events and ``max_pending_bytes`` bytes unread.  A lost connection is opened again
    after a wait that starts at ``backoff`` seconds and doubles up to
    ``max_backoff`` (each wait drawn between half of it and all of it); the wait
    starts small again only after a connection stayed up ``stable_after``
    seconds.  After ``max_reconnects`` attempts in a row (a connection that did
    not stay up that long counts as failed) the stream gives up; by default it
    never does.  Warnings of the same kind are logged at most once per
    ``warn_interval`` seconds, with a count of the ones held back.
    ``ping_interval`` is off by default: a subscriber that keeps its queue full
    for longer than the ping timeout would otherwise make the connection look dead.
    The limits are values (see the module's doc); nothing is read from the environment.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        queue_size: int = 100,
        max_pending_bytes: int = PENDING_BYTES,
        max_event_bytes: int = MAX_EVENT_SIZE,
        ws_queue: int = WS_QUEUE,
        ack_timeout: float = 30.0,
        backoff: float = 0.1,
        max_backoff: float = MAX_BACKOFF,
        stable_after: float = STABLE_AFTER,
        max_reconnects: int | None = None,
        ping_interval: float | None = None,
        warn_interval: float = WARN_INTERVAL,
    ) -> None:
        self.client = client
        self.queue_size = queue_size
        self.max_pending_bytes: int = _positive("max_pending_bytes", max_pending_bytes, int)
        self.max_event_bytes: int = _positive("max_event_bytes", max_event_bytes, int)
        self.ws_queue: int = _positive("ws_queue", ws_queue, int)
        self.ack_timeout = ack_timeout
        self.backoff = backoff
        self.max_backoff: float = _positive("max_backoff", max_backoff, float)
        self.stable_after: float = _positive("stable_after", stable_after, float)
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
        self._connected_at = 0.0
        self._delay = backoff  # the next reconnection wait (before jitter)
        self._attempts = 0  # reconnection attempts since the last stable connection
        self._warn_lost = _Throttle(warn_interval)
        self._warn_failed = _Throttle(warn_interval)
        self._warn_reconnected = _Throttle(warn_interval)
        self._warn_undecodable = _Throttle(warn_interval)
        #: How many times the connection was re-established.
        self.reconnects = 0
        #: Reconnection attempts made (successful or not).
        self.attempts = 0
        #: Messages skipped because they were no event (bad JSON, too deeply nested, ...).
        self.undecodable = 0

    @property
    def connected(self) -> bool:
        """Whether a websocket is open now: ``False`` before the first connect, while
        reconnecting after a loss, and after :meth:`close`."""
        return self._ws is not None

    # -- public ---------------------------------------------------------------------------------
    async def connect(self) -> None:
        """Open the websocket (done by the first ``subscribe`` otherwise)."""
        async with self._connecting:
            if self._closed:
                raise StreamClosed("event stream closed")
            if self._reader is None:
                self._ws = await self._open()
                self._connected_at = time.monotonic()
                self._reader = asyncio.create_task(self._read_forever(), name="drp-events")

    async def subscribe(
        self,
        *patterns: str,
        queue_size: int | None = None,
        max_pending_bytes: int | None = None,
        handler: EventCallback | None = None,
    ) -> Subscription:
        """Receive events matching any of ``patterns`` once DRP acknowledged them.

        (The acknowledgement comes through the stream: while another subscription's
        queue is full it waits until that subscription is read.)

        With ``handler`` (a function or coroutine function of the event), a task feeds
        it every event in order; closing the subscription stops it.  ``queue_size``
        and ``max_pending_bytes`` override the stream's bounds for this subscription.
        """
        parsed = tuple(Pattern(p) for p in dict.fromkeys(p.strip() for p in patterns))
        if not parsed:
            raise ValueError("subscribe needs at least one filter")
        await self.connect()
        subscription = Subscription(self, parsed, queue_size or self.queue_size,
                                    max_pending_bytes or self.max_pending_bytes)
        self._subscriptions.append(subscription)
        registrations = []
        for pattern in subscription.patterns:  # all bookkeeping first: close() undoes it
            registration = self._registrations.setdefault(pattern, _Registration())
            registration.users += 1
            registrations.append(registration)
        try:
            for pattern in subscription.patterns:
                await self._register(pattern)
            try:
                await asyncio.wait_for(
                    asyncio.gather(*(r.acknowledged.wait() for r in registrations)),
                    self.ack_timeout)
            except asyncio.TimeoutError:
                raise TimeoutError(f"DRP did not acknowledge {', '.join(subscription.patterns)} "
                                   f"within {self.ack_timeout:g}s") from None
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
            "max_size": self.max_event_bytes,
            "max_queue": self.ws_queue,
        }
        url = settings.websocket_url
        if settings.local_proxy:
            return await unix_connect(settings.local_proxy, url, **options)
        if url.startswith("wss:"):
            options["ssl"] = settings.tls()
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
        except (ValueError, TypeError, RecursionError) as exc:
            # RecursionError: nesting deeper than Python's parser goes (Go's goes to
            # 10,000 levels).  Skipped and counted; the stream goes on.
            self.undecodable += 1
            held = self._warn_undecodable.allow()
            if held is not None:
                log.warning("Ignoring a message of the event stream that is no event (%d so far): "
                            "%s%s", self.undecodable, _describe(exc), _held(held))
            return
        if event.type == "websocket" and event.action in ("register", "deregister"):
            self._acknowledge(event)
            return
        size = len(message)
        for subscription in list(self._subscriptions):
            if subscription.matches(event):
                # Waits while that subscription is full: backpressure.
                await subscription._mailbox.put(event, size)

    async def _read_forever(self) -> None:
        try:
            await self._read_and_reconnect()
        except Exception as exc:  # a bug must end the subscriptions, not hang them
            log.exception("Event stream to %s failed", self.client.endpoint)
            await self._give_up(exc)

    async def _read_and_reconnect(self) -> None:
        while True:
            ws = self._ws
            lived = 0.0
            if ws is not None:
                reason = "closed by the server"
                try:
                    while True:
                        # Bytes: no UTF-8 decoding to str (json.loads reads bytes),
                        # and the size counted is the size on the wire.
                        await self._dispatch(await ws.recv(decode=False))
                except ConnectionClosedOK:
                    pass
                except (ConnectionClosed, OSError) as exc:
                    reason = str(exc) or type(exc).__name__
                self._ws = None
                self._wire.clear()
                for registration in self._registrations.values():
                    registration.acknowledged.clear()
                lost_at = time.monotonic()
                lived = lost_at - self._connected_at
                held = self._warn_lost.allow()
                if held is not None:
                    log.warning("Event stream to %s lost after %.1fs (%s); reconnecting%s",
                                self.client.endpoint, lived, reason, _held(held))
            if not await self._reconnect(lived):
                return
            if ws is not None:
                await self._report_gap(reason, time.monotonic() - lost_at)

    def _next_wait(self) -> float:
        """The wait before the next attempt: random in [delay/2, delay]; delay doubles."""
        delay = self._delay
        self._delay = min(delay * 2, self.max_backoff)
        return random.uniform(delay / 2, delay)  # noqa: S311 - jitter, not a secret

    async def _reconnect(self, lived: float) -> bool:
        """Open a new connection, waiting before each attempt; False once given up.

        ``lived``: how long the lost connection stayed up.  Only a connection that
        stayed up ``stable_after`` seconds resets the wait and the attempt count, so
        a server that accepts and closes at once is retried ever more slowly.
        """
        if lived >= self.stable_after:
            self._delay, self._attempts = self.backoff, 0
        while True:
            self._attempts += 1
            if self.max_reconnects is not None and self._attempts > self.max_reconnects:
                log.warning("Event stream to %s: giving up after %d reconnection attempts",
                            self.client.endpoint, self._attempts - 1)
                await self._give_up(ConnectionError(
                    f"event stream lost: {self._attempts - 1} reconnection attempts failed"))
                return False
            await asyncio.sleep(self._next_wait())
            self.attempts += 1
            try:
                ws = await self._open()
            except (OSError, WebSocketException, PluginError, TimeoutError,
                    asyncio.TimeoutError) as exc:  # (3.9: not TimeoutError)
                held = self._warn_failed.allow()
                if held is not None:
                    log.warning("Event stream to %s: reconnect attempt %d failed (%s); retrying "
                                "within %.1fs%s", self.client.endpoint, self._attempts,
                                _describe(exc), self._delay, _held(held))
                continue
            self._ws, self._wire, self._unacknowledged = ws, set(), Counter()
            self._connected_at = time.monotonic()
            patterns = list(self._registrations)
            for pattern in patterns:
                await self._register(pattern)
            self.reconnects += 1
            held = self._warn_reconnected.allow()
            if held is not None:
                log.warning("Event stream to %s reconnected; registered again: %s%s",
                            self.client.endpoint, ", ".join(patterns) or "nothing", _held(held))
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
            await subscription._mailbox.put(notice, 0)

    async def _give_up(self, error: BaseException) -> None:
        self._closed = True
        self._reader = None
        subscriptions, self._subscriptions = self._subscriptions, []
        self._registrations.clear()
        for subscription in subscriptions:
            await subscription._mailbox.end(error)


def _describe(exc: BaseException) -> str:
    """``exc`` in one short line (a RecursionError's text would be misleading)."""
    if isinstance(exc, RecursionError):
        return "nested too deeply to decode"
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "..."


async def _feed(subscription: Subscription, handler: EventCallback) -> None:
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
        async with await stream.subscribe(topic_pattern(prefix, ANY, key)) as subscription:
            obj: dict[str, Any] = await stream.client.get(prefix, key)
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
        return await asyncio.wait_for(watch(), timeout)
    except (TimeoutError, asyncio.TimeoutError):
        raise TimeoutError(f"{prefix}/{key}: condition not met within {timeout}s") from None
    finally:
        if stream is not source:
            await stream.close()
