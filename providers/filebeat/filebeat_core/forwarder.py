"""The forwarder: lines from the spool to the sink, in order, sent again until delivered."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

from .errors import SinkError
from .files import FileSink
from .spool import Spool
from .tcp import TcpSink

#: Bytes written to the sink in one go.
WRITE_CHUNK = 256 * 1024
RETRY_MIN, RETRY_MAX = 0.1, 3.0
#: Seconds between checks that sent bytes were acknowledged, while some are not.
CONFIRM_POLL = 0.02


class Forwarder:
    """Takes lines from the spool and delivers them to the sink, in order, retrying.

    ``window`` holds the lines handed to the sink and not confirmed yet, with the
    sink offset (``written``) where each ends: a line is delivered once the sink
    wrote it (file) or the peer's TCP stack acknowledged it (tcp).  ``unsent``
    holds the lines taken from the spool and not handed over yet.  When a write
    fails, the window's unconfirmed lines go back in front of ``unsent``.
    """

    def __init__(self, spool: Spool, sink: FileSink | TcpSink,
                 log: logging.Logger | logging.LoggerAdapter[logging.Logger]) -> None:
        self.spool = spool
        self.sink = sink
        self.log = log
        self.window: deque[tuple[bytes, int]] = deque()
        self.unsent: deque[bytes] = deque()
        self.delivered = 0
        self.resent = 0
        self._next_sink: FileSink | TcpSink | None = None
        self._open = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._down_since: float | None = None
        self._failures = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="filebeat-forwarder")

    @property
    def target(self) -> FileSink | TcpSink:
        """Where lines go (once a pending switch happened)."""
        return self._next_sink or self.sink

    async def switch(self, sink: FileSink | TcpSink) -> None:
        """Deliver to ``sink`` from now on (what is queued included)."""
        self._next_sink = sink
        self._wake.set()
        await self.spool.interrupt()

    @property
    def idle(self) -> bool:
        return not (self.window or self.unsent or len(self.spool))

    def _confirm(self) -> None:
        acknowledged = self.sink.written - self.sink.unacknowledged()
        while self.window and self.window[0][1] <= acknowledged:
            self.window.popleft()
            self.delivered += 1

    def _requeue(self) -> None:
        """Unconfirmed lines go back in front, to be written again."""
        self._confirm()
        if self.window:
            self.resent += len(self.window)
            self.unsent.extendleft(line for line, _ in reversed(self.window))
            self.window.clear()

    def _backoff(self) -> float:
        self._failures += 1
        return float(min(RETRY_MAX, RETRY_MIN * 2 ** min(self._failures, 8)))

    async def _pause(self, delay: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), delay)
        except (TimeoutError, asyncio.TimeoutError):
            pass
        self._wake.clear()

    def _trouble(self, message: str, *args: Any) -> None:
        """Log the first failure of an outage only: each log line is itself a DRP event."""
        if self._down_since is None:
            self._down_since = time.monotonic()
            self.log.error(message, *args)

    def _recovered(self) -> None:
        if self._down_since is not None:
            self.log.warning("filebeat: %s works again after %.1fs; %d event(s) to send",
                             self.sink, time.monotonic() - self._down_since,
                             len(self.unsent) + len(self.spool))
        self._down_since, self._failures = None, 0

    async def _swap_sink(self) -> None:
        new, self._next_sink = self._next_sink, None
        assert new is not None
        for _ in range(50):  # give the old peer a moment to acknowledge what it got
            self._confirm()
            if not self.window or self.sink.broken:
                break
            await asyncio.sleep(CONFIRM_POLL)
        self._requeue()
        await self.sink.close()
        self.log.info("filebeat: now writing to %s", new)
        self.sink, self._open, self._down_since, self._failures = new, False, None, 0

    async def _run(self) -> None:
        while True:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not stop the forwarding for good
                self.log.exception("filebeat: forwarder failed; retrying")
                self._requeue()
                await self._pause(self._backoff())

    async def _step(self) -> None:
        if self._next_sink is not None:
            await self._swap_sink()
        if not self._open:
            try:
                await self.sink.open()
            except (OSError, TimeoutError) as exc:
                self._trouble("filebeat: cannot reach %s (%s); events are kept and sent when "
                              "it is back", self.sink, exc)
                await self._pause(self._backoff())
                return
            self._open = True
        if not self.unsent:
            self._confirm()
            self.unsent.extend(await self.spool.take(WRITE_CHUNK,
                                                     CONFIRM_POLL if self.window else None))
        self._confirm()
        if self.sink.broken:
            self._lost("the peer closed the connection")
            return
        if not self.unsent:
            return
        lines: list[bytes] = []
        size = 0
        end = self.sink.written
        while self.unsent and (not lines or size + len(self.unsent[0]) <= WRITE_CHUNK):
            line = self.unsent.popleft()
            lines.append(line)
            size += len(line)
            end += len(line)
            self.window.append((line, end))  # from now on, stop() finds it here
        data = b"".join(lines)
        try:
            await self.sink.write(data)
        except SinkError as exc:
            if isinstance(self.sink, TcpSink):
                self._lost(str(exc))
            else:
                self._requeue()
                self._trouble("filebeat: cannot write to %s (%s); retrying", self.sink, exc)
                await self._pause(self._backoff())
            return
        self._recovered()
        self._confirm()

    def _lost(self, reason: str) -> None:
        self._confirm()
        self._trouble("filebeat: connection to %s lost (%s); %d event(s) not acknowledged are "
                      "sent again", self.sink, reason, len(self.window))
        self._requeue()
        self._open = False

    async def flush(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` seconds) until everything queued was delivered."""
        deadline = time.monotonic() + timeout
        while not self.idle:
            if time.monotonic() >= deadline or self._task is None or self._task.done():
                return False
            await asyncio.sleep(CONFIRM_POLL)
        return True

    async def stop(self) -> list[bytes]:
        """Stop; returns the lines taken from the spool and not delivered, in order."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._requeue()
        left = list(self.unsent)
        self.unsent.clear()
        await self.sink.close()
        return left
