"""One configured plugin: event stream, pump, spool and forwarder; start, re-config, stop."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from drp_plugin.events import EventStream

from .errors import error
from .forwarder import Forwarder
from .pump import Pump
from .spool import Spool, SpoolFile, default_spool_dir

if TYPE_CHECKING:
    from drp_plugin.api import AsyncClient
    from drp_plugin.events import Subscription

    from .files import FileSink
    from .settings import Settings
    from .tcp import TcpSink

#: Seconds stop may spend delivering what is queued (DRP waits for /stop).
STOP_FLUSH = 3.0


class Pipeline:
    """One configured plugin: event stream, pump, spool and forwarder."""

    def __init__(self, api: AsyncClient, plugin: str,
                 log: logging.Logger | logging.LoggerAdapter[logging.Logger]) -> None:
        self.api = api
        self.plugin = plugin
        self.log = log
        self.settings: Settings | None = None
        self.stream: EventStream | None = None
        self.spool: Spool | None = None
        self.pump: Pump | None = None
        self.forwarder: Forwarder | None = None

    def _spool_dir(self, settings: Settings) -> str | None:
        if settings.spool_max == 0:
            return None
        return settings.spool_dir or default_spool_dir(self.plugin)

    async def _subscribe(self, settings: Settings) -> Subscription | None:
        if not settings.selections:
            return None
        if self.stream is None:
            self.stream = EventStream(self.api)
        try:
            return await self.stream.subscribe(*settings.selections)
        except Exception as exc:
            raise error(f"Unable to create event stream: {exc}", 500) from None

    async def start(self, settings: Settings, sink: FileSink | TcpSink) -> None:
        disk: SpoolFile | None = None
        try:
            directory = self._spool_dir(settings)
            if directory is not None:
                disk = SpoolFile(directory)
        except OSError as exc:
            if settings.spool_dir:
                raise error(f"filebeat/spool-dir: {exc}", 400) from None
            self.log.warning("filebeat: no spool folder (%s): when the queue is full the "
                             "event stream is held back", exc)
        try:
            subscription = await self._subscribe(settings)
        except BaseException:
            if disk is not None:
                disk.close(remove=not disk.items)
            raise
        if disk is not None and disk.items:
            self.log.info("filebeat: %d event(s) left by the previous run are sent first",
                          disk.items)
        self.spool = Spool(disk, settings.queue_size, settings.spool_max, self.log)
        self.forwarder = Forwarder(self.spool, sink, self.log)
        self.forwarder.start()
        self.pump = Pump(self.spool, self.log)
        self.pump.start(subscription)
        self.settings = settings

    async def reconfigure(self, settings: Settings, sink: FileSink | TcpSink) -> None:
        assert self.settings is not None and self.spool is not None
        assert self.pump is not None and self.forwarder is not None
        # The new subscription first: if it fails, nothing changed.  The pump is told
        # before: from then on an event can reach the old and the new subscription.
        changed = settings.selections != self.settings.selections
        handover = self.pump.prepare(settings.patterns) if changed else None
        try:
            subscription = await self._subscribe(settings) if changed else None
        except BaseException:
            if handover is not None:
                self.pump.cancel(handover)
            raise
        if not sink.same_as(self.forwarder.target):
            await self.forwarder.switch(sink)
        if handover is not None:
            await self.pump.hand_over(subscription, handover)
        spool = self.spool
        spool.memory_items, spool.disk_max = settings.queue_size, settings.spool_max
        try:
            directory = self._spool_dir(settings)
            if directory is not None:
                if spool.disk is None:
                    spool.disk = SpoolFile(directory)
                elif directory != spool.disk.directory:
                    spool.next_directory = directory  # once the current spool file is read
        except OSError as exc:
            self.log.warning("filebeat: spool folder unusable: %s", exc)
        self.settings = settings

    async def stop(self) -> None:
        assert self.spool is not None and self.pump is not None and self.forwarder is not None
        deadline = time.monotonic() + STOP_FLUSH
        # The forwarder keeps running meanwhile: a full queue still drains.
        last = await self.pump.stop(STOP_FLUSH)
        if self.stream is not None:
            try:
                await self.stream.close()
            except Exception as exc:
                self.log.warning("filebeat: closing the event stream: %s", exc)
        flushed = await self.forwarder.flush(max(0.0, deadline - time.monotonic()))
        first = await self.forwarder.stop()
        try:
            kept, lost = self.spool.persist(first, last)
        except OSError as exc:  # disk full at stop: nowhere to keep them
            kept, lost = 0, 0
            self.log.error("filebeat: cannot write the spool file (%s): %d event(s) not "
                           "delivered are lost", exc, len(first) + len(self.spool) + len(last))
        self.log.info("filebeat: stopping: %d event(s) received, %d delivered, %d sent again, "
                      "%d spilled to disk", self.pump.received, self.forwarder.delivered,
                      self.forwarder.resent, self.spool.spilled)
        if kept and not flushed:
            self.log.warning("filebeat: %d event(s) not delivered in time are kept in the spool "
                             "folder for the next start", kept)
        if lost:
            self.log.error("filebeat: %d event(s) not delivered and no spool folder to keep "
                           "them in", lost)
        self.spool.close()
