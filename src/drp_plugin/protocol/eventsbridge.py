"""DRP's event stream into the provider's event handlers.

On config the runtime opens the websocket with the provider's selections (an
unchanged selection keeps the running stream, so a repeated config loses none of
the events already queued); every event goes to :func:`deliver_event`, which the
in-process test client calls too.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from typing import TYPE_CHECKING, Any

from ..errors import PluginError
from .logship import new_group
from .settings import ListenSettings

if TYPE_CHECKING:
    from ..models import Event
    from ..provider import BaseProvider
    from .services import Services

log = logging.getLogger("drp_plugin.runtime")


async def deliver_event(provider: BaseProvider, services: Services, event: Event) -> None:
    """Run the provider's handlers for one event; errors are logged, never raised."""
    new_group()
    if event.type == "websocket" and event.action == "gap":
        log.warning("Event stream was down (%s): events published meanwhile may be "
                    "missing", event.object)
    try:
        await provider.run_event(services, event)
    except PluginError as exc:
        log.error("Error processing event %s: %s", event.topic, exc)
    except Exception as exc:
        log.error("Event handler crashed on %s:\n%s", event.topic,
                  "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))


class EventBridge:
    """The websocket subscription of a running provider and the task consuming it."""

    def __init__(self, provider: BaseProvider, services: Services,
                 settings: ListenSettings | None = None) -> None:
        self.provider = provider
        self.services = services
        #: Where the stream's limits come from (``DRP_PLUGIN_EVENT_*``).
        self.settings = settings if settings is not None else ListenSettings()
        self.selections: list[str] = []
        self._stream: Any = None
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether a subscription is being consumed."""
        return self._task is not None and not self._task.done()

    async def open(self, selections: list[str]) -> None:
        """(Re)open the stream with ``selections``; unchanged and running: kept as is."""
        from ..events import EventStream

        if self._stream is not None and self.running and self.selections == selections:
            return
        await self.close()
        self.selections = list(selections)
        s = self.settings
        stream = EventStream(self.services.async_api(), max_pending_bytes=s.event_pending_bytes,
                             max_event_bytes=s.event_max_bytes, ws_queue=s.event_ws_queue,
                             max_backoff=s.event_max_backoff, stable_after=s.event_stable_after)
        subscription = await stream.subscribe(*selections)
        self._stream = stream
        self._task = asyncio.get_running_loop().create_task(self._consume(subscription))

    async def _consume(self, subscription: Any) -> None:
        async for event in subscription:
            await deliver_event(self.provider, self.services, event)

    async def close(self) -> None:
        """Stop consuming and close the websocket."""
        task, stream = self._task, self._stream
        self._task = self._stream = None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        if stream is not None:
            await stream.close()
