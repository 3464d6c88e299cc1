"""The pump: events of the subscription, encoded, into the spool, in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from drp_plugin.errors import StreamClosed

from .filtering import encode_event

if TYPE_CHECKING:
    from drp_plugin.events import Pattern, Subscription
    from drp_plugin.models import Event

    from .spool import Spool


class Handover:
    """A re-config to other selections, from before their subscription exists to the switch.

    The stream gives an event to every subscription registered when it arrives,
    and a subscription is registered from ``subscribe`` on: until the pump
    switches, an event the new selections match can reach both subscriptions
    and be queued from the old one.  ``queued`` keeps every such event, in
    order, for the new subscription to skip.
    """

    def __init__(self, patterns: list[Pattern]) -> None:
        self.patterns = patterns
        self.queued: list[Event] = []

    def matches(self, event: Event) -> bool:
        return any(p.matches(event) for p in self.patterns)


class Pump:
    """Reads the event subscription and queues each event's line in the spool.

    On a re-config with other selections, :meth:`prepare` comes before the new
    subscription is made, and :meth:`hand_over` gets it, already registered;
    the pump finishes the events the old one had received, then skips the new
    one's first events when it queued them from the old one since
    :meth:`prepare` (an event can match both), so the switch loses and doubles
    nothing.
    """

    def __init__(self, spool: Spool,
                 log: logging.Logger | logging.LoggerAdapter[logging.Logger]) -> None:
        self.spool = spool
        self.log = log
        self.subscription: Subscription | None = None
        self.received = 0
        self.gaps = 0
        self._next: tuple[Subscription | None, Handover] | None = None
        self._handovers: list[Handover] = []  # prepared, not switched to yet
        self._wake = asyncio.Event()
        self._skip: list[Event] | None = None
        self._skip_from: Subscription | None = None  # where the events of _skip came from
        self._in_flight: bytes | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self, subscription: Subscription | None) -> None:
        self.subscription = subscription
        self._task = asyncio.create_task(self._run(), name="filebeat-pump")

    def prepare(self, patterns: list[Pattern]) -> Handover:
        """Announce a switch to ``patterns``: call it before subscribing to them.

        From now on the events queued that ``patterns`` match are kept, until
        :meth:`hand_over` switched to the new subscription or :meth:`cancel`.
        """
        handover = Handover(patterns)
        self._handovers.append(handover)
        return handover

    def cancel(self, handover: Handover) -> None:
        """The subscription of ``handover`` could not be made: keep nothing for it."""
        if handover in self._handovers:
            self._handovers.remove(handover)

    async def hand_over(self, subscription: Subscription | None, handover: Handover) -> None:
        """Switch to ``subscription`` (made after :meth:`prepare` gave ``handover``)."""
        previous, self._next = self._next, (subscription, handover)
        if previous is not None:  # a hand-over that never happened
            self.cancel(previous[1])
            if previous[0] is not None:
                await previous[0].close()
        self._wake.set()

    async def _next_event(self, subscription: Subscription) -> Event | None:
        """The next event, or None when woken up (hand-over, stop) first."""
        if subscription.pending:
            return await subscription.get()
        getting = asyncio.ensure_future(subscription.get())
        waking = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({getting, waking}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waking.cancel()
            if not getting.done():
                getting.cancel()  # then nothing was taken from the subscription
        if getting.done() and not getting.cancelled():
            return getting.result()
        return None

    async def _run(self) -> None:
        while not self._stopping:
            if self._next is not None:
                await self._switch()
            subscription = self.subscription
            if subscription is None:
                await self._wake.wait()
                self._wake.clear()
                continue
            try:
                event = await self._next_event(subscription)
            except (StreamClosed, ConnectionError) as exc:
                self.log.error("filebeat: the event stream ended (%s): no more events until "
                               "the plugin is configured again", exc)
                self.subscription = None
                continue
            if event is None:
                self._wake.clear()
            else:
                await self._handle(event)
        # Stopping: queue what was received already.
        subscription = self.subscription
        if subscription is not None:
            for _ in range(subscription.pending):
                await self._handle(await subscription.get())

    async def _switch(self) -> None:
        assert self._next is not None
        new, handover = self._next
        self._next = None
        old = self.subscription
        if old is not None and old is not new:
            for _ in range(old.pending):  # what the old selections received so far
                await self._handle(await old.get())  # kept in handover.queued if it matches
            await old.close()
        self.cancel(handover)
        self.subscription = new
        # Queued since prepare() (from the old subscription, or the one before it when a
        # switch came in between): the new one may hold them too, in that order.
        overlap = handover.queued if old is not None and old is not new else []
        self._skip, self._skip_from = overlap or None, old

    def _duplicate(self, event: Event) -> bool:
        """Whether ``event`` was already queued from the previous subscription."""
        skip = self._skip
        if not skip:
            return False
        for i, seen in enumerate(skip):
            if seen is event or seen.raw == event.raw:
                # The new subscription starts inside the overlap: expect the rest next.
                self._skip = skip[i + 1:] or None
                return True
        # Not queued before.  When the old subscription could have received it, it came
        # after the overlap: nothing more to skip.  Otherwise only the new selections
        # match it and the overlap may go on after it.
        if self._skip_from is None or self._skip_from.matches(event):
            self._skip = None
        return False

    async def _handle(self, event: Event) -> None:
        if event.type == "websocket" and event.action == "gap":
            self.gaps += 1
            details = event.object if isinstance(event.object, dict) else {}
            self.log.warning("filebeat: the event stream was down for %ss; DRP cannot replay "
                             "the events of that time", details.get("Seconds", "?"))
            return
        if self._duplicate(event):
            return
        try:
            line = encode_event(event.raw)
        except (TypeError, ValueError) as exc:  # cannot happen with JSON input
            self.log.error("filebeat: event %s cannot be encoded: %s", event.topic, exc)
            return
        self.received += 1
        for handover in self._handovers:
            if handover.matches(event):
                handover.queued.append(event)
        self._in_flight = line
        await self.spool.put(line)
        self._in_flight = None

    async def stop(self, timeout: float) -> list[bytes]:
        """Queue what the subscription received (bounded), stop reading it.

        Returns the lines that could not be queued in time, in order.
        """
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout)
            except (TimeoutError, asyncio.TimeoutError):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            except Exception:  # what it did not queue is still handled below
                self.log.exception("filebeat: the event pump failed while stopping")
        left = [self._in_flight] if self._in_flight is not None else []
        self._in_flight = None
        subscription, self.subscription = self.subscription, None
        pending, self._next = self._next, None
        self._handovers.clear()
        for sub in (subscription, pending[0] if pending else None):
            if sub is None:
                continue
            if sub is subscription:
                for _ in range(sub.pending):
                    event = await sub.get()
                    if not (event.type == "websocket" and event.action == "gap"):
                        left.append(encode_event(event.raw))
            await sub.close()
        return left
