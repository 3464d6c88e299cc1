"""Event fan-out: every published event is recorded and sent to each matching subscriber.

Delivery to a subscriber is lossless and ordered: events go into an unbounded
queue per connection, and one writer task awaits each send in turn.  Filters
match as in :mod:`drp_plugin.events.matching` (docs/protocol.md section 4).
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
                 accept: Callable[[Obj], bool] | None = None) -> None:
        self.principal = principal
        self.accept = accept
        self.filters: dict[str, Pattern | None] = {}
        self._send = send
        self._close = close
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write())

    def register(self, text: str) -> None:
        try:
            self.filters[text] = Pattern(text)
        except ValueError:  # acknowledged like DRP does, but it can never match
            self.filters[text] = None

    def wants(self, event: Obj) -> bool:
        if self.accept is not None:
            return self.accept(event)
        if not self.filters:
            return False
        topic = _Topic(event)
        return any(p is not None and p.matches(topic) for p in self.filters.values())

    def push(self, text: str) -> None:
        """Queue one frame (never drops; the queue is unbounded)."""
        self._queue.put_nowait(text)

    def acknowledge(self, action: str, pattern: str) -> None:
        ack = make_event("websocket", action, pattern, None)
        ack.update(Principal="", Original=None)
        self.push(json.dumps(ack))

    async def _write(self) -> None:
        while True:
            text = await self._queue.get()
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


class EventHub:
    """Records events, fans them out to subscribers and wakes waiters."""

    def __init__(self) -> None:
        self.events: list[Obj] = []
        self.subscribers: set[Subscriber] = set()
        self._waiters: list[tuple[Callable[[Obj], bool], asyncio.Future[Obj]]] = []

    def publish(self, event: Obj) -> None:
        self.events.append(event)
        text: str | None = None
        for sub in list(self.subscribers):
            if sub.wants(event):
                text = text or json.dumps(event)
                sub.push(text)
        for waiter in list(self._waiters):
            test, future = waiter
            if not future.done() and test(event):
                future.set_result(event)
                self._waiters.remove(waiter)

    async def wait_for(self, pattern: str | Callable[[Obj], bool], timeout: float = 10.0,
                       since: int = 0) -> Obj:
        """The first event at index >= ``since`` matching ``pattern`` (waits if needed)."""
        if callable(pattern):
            test = pattern
        else:
            parsed = Pattern(pattern)
            test = lambda e: parsed.matches(_Topic(e))  # noqa: E731
        for event in self.events[since:]:
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
