"""Logging to DRP: every stdlib log record becomes one ``logger.Line`` POSTed to ``/log``.

Delivery is asynchronous, ordered and bounded (PROTOCOL.md section 3 lists the Go
reference's faults this avoids):

- ``emit`` only appends to a bounded queue: a slow or failing sink never delays
  the request that logged;
- lines that cannot be delivered are counted, never logged again (no loop), and
  reported once on stderr;
- when the queue is full the oldest line is dropped and counted: memory is bounded;
- :meth:`LogShipper.drain` waits (bounded) for the queue to drain on stop.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import itertools
import json
import logging
import sys
import threading
import time
from typing import Any

from .unixclient import UnixHTTPClient

#: The Group of the request being handled (one per request, like the Go logger fork).
log_group: contextvars.ContextVar[int] = contextvars.ContextVar("drp_log_group", default=0)
_group_counter = itertools.count(1)

LOG_PATH = "/api-server-plugin/v4/log"
#: At most this many lines are written back to back before their answers are read.
BATCH = 64
#: Seconds a first line waits for others before its batch is sent.
COALESCE = 0.001

_shipping: contextvars.ContextVar[bool] = contextvars.ContextVar("drp_log_shipping", default=False)

TRACE = 5
AUDIT = 60
logging.addLevelName(TRACE, "TRACE")
logging.addLevelName(AUDIT, "AUDIT")


def new_group() -> int:
    """Start a new log Group for the current request."""
    group = next(_group_counter)
    log_group.set(group)
    return group


def level_name(levelno: int) -> str:
    """The DRP level string of a stdlib level number."""
    if levelno >= AUDIT:
        return "audit"
    if levelno >= logging.CRITICAL:
        return "fatal"
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warn"
    if levelno >= logging.INFO:
        return "info"
    if levelno >= logging.DEBUG:
        return "debug"
    return "trace"


_second: tuple[int, str] = (-1, "")  # the last second formatted (swapped whole: thread-safe)


def _rfc3339(ns: int) -> str:
    """UTC RFC 3339 with nanoseconds; the seconds part is formatted once per second."""
    global _second
    secs, frac = divmod(ns, 1_000_000_000)
    cached = _second
    if cached[0] != secs:
        cached = _second = (secs, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)))
    return f"{cached[1]}.{frac:09d}Z"


class LogShipper(logging.Handler):
    """A logging handler that ships records to DRP's ``/log`` from the event loop."""

    def __init__(
        self,
        service: str,
        socket_path: str,
        loop: asyncio.AbstractEventLoop,
        *,
        max_queue: int = 10_000,
        level: int = logging.DEBUG,
    ) -> None:
        super().__init__(level)
        self.service = service
        self.loop = loop
        self.client = UnixHTTPClient(socket_path, timeout=5.0)
        self.queue: collections.deque[bytes] = collections.deque()
        self.max_queue = max_queue
        self.sent = 0
        self.dropped = 0  # queue overflow
        self.failed = 0  # sink refused or unreachable
        self._seq = itertools.count(1)
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._reported = False
        self._first_error = ""
        self._closed = False
        self._loop_thread = -1

    # -- producer side (any thread) -------------------------------------------------
    def emit(self, record: logging.LogRecord) -> None:
        if self._closed or _shipping.get():
            return
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            line = {
                "Group": log_group.get(),
                "Seq": next(self._seq),
                "Time": _rfc3339(time.time_ns()),
                "Service": self.service,
                "Principal": "",
                "Level": level_name(record.levelno),
                "File": record.pathname,
                "Line": record.lineno,
                "Message": message,
                "Data": [],
                # ``extra={"ignore_publish": True}``: DRP keeps the line out of its
                # event stream (Go's ``NoRepublish``), e.g. for a provider that
                # forwards every event and must not see its own log lines.
                "IgnorePublish": bool(getattr(record, "ignore_publish", False)),
            }
            payload = json.dumps(line, separators=(",", ":"), ensure_ascii=False, default=str).encode()
        except Exception:  # a broken record must never break the caller
            self.failed += 1
            return
        if len(self.queue) >= self.max_queue:
            self.queue.popleft()
            self.dropped += 1
        self.queue.append(payload)
        if self._wakeup.is_set():
            return  # the shipper is already due to run: no need to wake it again
        try:
            if self.loop.is_closed():
                return
            if threading.get_ident() == self._loop_thread:
                self._wake()
            else:
                self.loop.call_soon_threadsafe(self._wake)
        except RuntimeError:
            pass

    def _wake(self) -> None:
        self._idle.clear()
        self._wakeup.set()

    # -- consumer side (event loop) -----------------------------------------------------
    def start(self) -> None:
        self._loop_thread = threading.get_ident()
        self._task = self.loop.create_task(self._run(), name="drp-log-shipper")

    async def _run(self) -> None:
        _shipping.set(True)
        backoff = 0.0
        while True:
            await self._wakeup.wait()
            if len(self.queue) < BATCH:
                # Let the lines of the requests being answered right now join the batch.
                await asyncio.sleep(COALESCE)
            self._wakeup.clear()
            while self.queue:
                if backoff:
                    await asyncio.sleep(backoff)
                batch = [self.queue.popleft() for _ in range(min(len(self.queue), BATCH))]
                try:
                    statuses = await self.client.post_pipelined(LOG_PATH, batch)
                except Exception as exc:  # the sink is unreachable: count, back off, go on
                    self._failure(f"{type(exc).__name__}: {exc}", len(batch))
                    backoff = min(max(backoff * 2, 0.05), 2.0)
                    continue
                backoff = 0.0
                for status in statuses:
                    if 200 <= status < 300:
                        self.sent += 1
                    else:
                        self._failure(f"HTTP {status}")
                if len(statuses) < len(batch):
                    self._failure("connection lost", len(batch) - len(statuses))
            self._idle.set()

    def _failure(self, error: str, lines: int = 1) -> None:
        self.failed += lines
        if not self._reported:
            self._reported = True
            self._first_error = error
            print(f"drp-plugin: log lines cannot be delivered to DRP ({error}); "
                  "they are counted, not retried", file=sys.stderr, flush=True)

    async def drain(self, timeout: float = 2.0) -> bool:
        """Wait until every queued line was tried; False if ``timeout`` ran out."""
        if not self.queue:
            return True
        self._wake()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except (asyncio.TimeoutError, TimeoutError):  # noqa: UP041 - distinct before 3.11
            return False

    async def aclose(self, timeout: float = 2.0) -> None:
        """Flush, stop the shipper and report undelivered lines once on stderr."""
        await self.drain(timeout)
        self._closed = True
        lost = len(self.queue)
        self.queue.clear()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self.client.close()
        undelivered = self.failed + self.dropped + lost
        if undelivered:
            print(f"drp-plugin: {undelivered} log line(s) were not delivered to DRP "
                  f"({self.failed} refused or unreachable, {self.dropped + lost} dropped)",
                  file=sys.stderr, flush=True)

    def stats(self) -> dict[str, Any]:
        return {"sent": self.sent, "failed": self.failed, "dropped": self.dropped,
                "queued": len(self.queue)}

