"""Logging to DRP: every stdlib log record becomes one ``logger.Line`` POSTed to ``/log``.

Delivery is asynchronous, ordered and bounded (docs/protocol.md section 3 lists the Go
reference's faults this avoids):

- ``emit`` only encodes the line and appends it to a queue bounded in bytes: a
  slow or failing sink never delays the request that logged;
- one line is capped at ``max_line`` bytes: a longer message is cut and ends with
  ``...[truncated N bytes]`` (cuts are counted);
- lines go out as pipelined POSTs, many per write; a line is posted once: if DRP
  refuses it or the connection breaks after it was written, it is counted, never
  logged again (no loop), and reported once on stderr.  Lines that could not be
  written at all (DRP's socket not reachable, or no file descriptor left) stay
  queued and are retried with backoff;
- when the queue is full (DRP slower than the provider for long) the oldest line
  is dropped and counted: memory is bounded;
- :meth:`LogShipper.drain` and :meth:`LogShipper.aclose` are bounded in time.
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

from .paths import DRP_LOG
from .unixclient import UnixHTTPClient

#: The Group of the request being handled (one per request, like the Go logger fork).
log_group: contextvars.ContextVar[int] = contextvars.ContextVar("drp_log_group", default=0)
_group_counter = itertools.count(1)

#: At most this many lines, or BATCH_BYTES, are written back to back before their
#: answers are read.
BATCH = 1024
BATCH_BYTES = 256 * 1024
#: Seconds a first line waits for others before its batch is sent.
COALESCE = 0.001
#: Default bound of the queue, bytes (``DRP_PLUGIN_LOG_QUEUE_BYTES``).
DEFAULT_QUEUE_BYTES = 16 * 1024 * 1024
#: Default bound of one encoded line, bytes (``DRP_PLUGIN_LOG_LINE_BYTES``).
DEFAULT_LINE_BYTES = 64 * 1024
_MARKER = "...[truncated {} bytes]"
_LINE = ('{{"Group":{},"Seq":{},"Time":"{}","Service":{},"Principal":"","Level":"{}",'
         '"File":{},"Line":{},"Message":{},"Data":[],"IgnorePublish":{}}}')
_quote = json.encoder.encode_basestring

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
    """A logging handler that ships records to DRP's ``/log`` from the event loop.

    ``max_queue_bytes`` bounds the queue (``DRP_PLUGIN_LOG_QUEUE_BYTES``, default
    16 MiB); ``max_line`` bounds one encoded line (``DRP_PLUGIN_LOG_LINE_BYTES``,
    default 64 KiB); ``max_queue``, if given, also bounds the queue in lines.
    """

    def __init__(
        self,
        service: str,
        socket_path: str,
        loop: asyncio.AbstractEventLoop,
        *,
        max_queue: int | None = None,
        max_queue_bytes: int = DEFAULT_QUEUE_BYTES,
        max_line: int = DEFAULT_LINE_BYTES,
        level: int = logging.DEBUG,
    ) -> None:
        super().__init__(level)
        self.service = service
        self.loop = loop
        self.client = UnixHTTPClient(socket_path, timeout=5.0)
        self.queue: collections.deque[bytes] = collections.deque()
        self.max_queue = max_queue
        self.max_queue_bytes = max_queue_bytes
        self.max_line = max(256, max_line)
        self.queued_bytes = 0
        self.sent = 0
        self.dropped = 0  # queue overflow
        self.failed = 0  # sink refused or unreachable
        self.truncated = 0  # lines cut to max_line
        self.cut_bytes = 0  # bytes cut from them
        self._service = _quote(service)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._in_flight = 0
        self._task: asyncio.Task[None] | None = None
        self._reported = False
        self._closed = False
        self._loop_thread = -1

    # -- producer side (any thread) -------------------------------------------------
    def encode(self, record: logging.LogRecord) -> bytes:
        """One ``logger.Line`` as JSON bytes (what ``json.dumps`` would write), capped."""
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        # ``extra={"ignore_publish": True}``: DRP keeps the line out of its event
        # stream (Go's ``NoRepublish``), e.g. for a provider that forwards every
        # event and must not see its own log lines.
        return self.encode_line(record.levelno, message, str(record.pathname),
                                int(record.lineno or 0),
                                bool(getattr(record, "ignore_publish", False)))

    def encode_line(self, levelno: int, message: str, pathname: str, lineno: int,
                    ignore_publish: bool = False) -> bytes:
        """The ``logger.Line`` of one message, capped at ``max_line`` bytes."""
        group = log_group.get()
        seq = next(self._seq)
        stamp = _rfc3339(time.time_ns())
        level = level_name(levelno)
        path = _quote(pathname)
        ignore = "true" if ignore_publish else "false"
        line = _LINE.format(group, seq, stamp, self._service, level, path, lineno,
                            _quote(message), ignore).encode("utf-8", "replace")
        over = len(line) - self.max_line
        if over > 0:
            raw = message.encode("utf-8", "replace")
            keep = max(0, len(raw) - over - 64)
            while True:
                cut = len(raw) - keep
                text = raw[:keep].decode("utf-8", "ignore") + _MARKER.format(cut)
                line = _LINE.format(group, seq, stamp, self._service, level, path, lineno,
                                    _quote(text), ignore).encode("utf-8", "replace")
                if len(line) <= self.max_line or keep == 0:
                    break
                keep = max(0, keep - (len(line) - self.max_line) - 64)
            self.truncated += 1
            self.cut_bytes += cut
        return line

    def emit(self, record: logging.LogRecord) -> None:
        """Encode ``record`` as one ``logger.Line`` and queue it; never blocks, never raises
        (a record that cannot be encoded is counted in ``failed``)."""
        if self._closed or _shipping.get():
            return
        try:
            payload = self.encode(record)
        except Exception:  # a broken record must never break the caller
            self.failed += 1
            return
        self._queue(payload)

    def ship(self, levelno: int, message: str, pathname: str, lineno: int,
             ignore_publish: bool = False) -> None:
        """Queue one line without a ``LogRecord`` (the provider logger's short path,
        :mod:`drp_plugin._provider_logger`); never blocks, never raises."""
        if self._closed or _shipping.get():
            return
        try:
            payload = self.encode_line(levelno, message, pathname, lineno, ignore_publish)
        except Exception:
            self.failed += 1
            return
        self._queue(payload)

    def _queue(self, payload: bytes) -> None:
        size = len(payload)
        with self._lock:
            queue = self.queue
            while queue and (self.queued_bytes + size > self.max_queue_bytes or
                             (self.max_queue is not None and len(queue) >= self.max_queue)):
                self.queued_bytes -= len(queue.popleft())
                self.dropped += 1
            queue.append(payload)
            self.queued_bytes += size
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
        """Start the shipping task on the loop (call from the loop's thread)."""
        self._loop_thread = threading.get_ident()
        self._task = self.loop.create_task(self._run(), name="drp-log-shipper")

    def _take_batch(self) -> list[bytes]:
        batch: list[bytes] = []
        size = 0
        with self._lock:
            queue = self.queue
            while queue and len(batch) < BATCH and size < BATCH_BYTES:
                line = queue.popleft()
                size += len(line)
                batch.append(line)
            self.queued_bytes -= size
        return batch

    def _requeue(self, batch: list[bytes]) -> None:
        """Put back lines that were never written (they keep their place, first)."""
        with self._lock:
            self.queue.extendleft(reversed(batch))
            self.queued_bytes += sum(len(line) for line in batch)
            while self.queued_bytes > self.max_queue_bytes and len(self.queue) > 1:
                self.queued_bytes -= len(self.queue.popleft())
                self.dropped += 1

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
                batch = self._take_batch()
                self._in_flight = len(batch)
                try:
                    if not self.client.connected:
                        try:
                            await self.client.connect()
                        except (asyncio.TimeoutError, OSError) as exc:
                            # Nothing was written: the lines keep their place and wait.
                            self._requeue(batch)
                            self._report(f"{type(exc).__name__}: {exc}")
                            backoff = min(max(backoff * 2, 0.05), 2.0)
                            continue
                    try:
                        statuses = await self.client.post_pipelined(DRP_LOG, batch)
                    except Exception as exc:  # broken after writing: count, back off, go on
                        self._failure(f"{type(exc).__name__}: {exc}", len(batch))
                        backoff = min(max(backoff * 2, 0.05), 2.0)
                        continue
                finally:
                    self._in_flight = 0
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
        self._report(error)

    def _report(self, error: str) -> None:
        if not self._reported:
            self._reported = True
            print(f"drp-plugin: log lines cannot be delivered to DRP ({error}); "
                  "they are counted, not retried", file=sys.stderr, flush=True)

    async def drain(self, timeout: float = 2.0) -> bool:
        """Wait until every queued line was tried; False if ``timeout`` ran out."""
        if not self.queue and not self._in_flight:
            return True
        if self._task is None or self._task.done():
            return False
        self._wake()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def aclose(self, timeout: float = 2.0) -> None:
        """Flush, stop the shipper and report undelivered lines once on stderr.

        Bounded: at most ``timeout`` for the flush, then one second each for the
        shipping task to end and for the connection to close.
        """
        await self.drain(timeout)
        self._closed = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        with self._lock:
            lost = len(self.queue) + self._in_flight
            self.queue.clear()
            self.queued_bytes = 0
        self._in_flight = 0
        try:
            await asyncio.wait_for(self.client.close(), 1.0)
        except (asyncio.TimeoutError, OSError):
            pass
        undelivered = self.failed + self.dropped + lost
        if undelivered:
            print(f"drp-plugin: {undelivered} log line(s) were not delivered to DRP "
                  f"({self.failed} refused or unreachable, {self.dropped + lost} dropped)",
                  file=sys.stderr, flush=True)
        if self.truncated:
            print(f"drp-plugin: {self.truncated} log line(s) were cut to {self.max_line} bytes "
                  f"({self.cut_bytes} bytes cut)", file=sys.stderr, flush=True)

    def stats(self) -> dict[str, Any]:
        """Counters: sent, failed, dropped, queued (lines), queued_bytes, truncated."""
        return {"sent": self.sent, "failed": self.failed, "dropped": self.dropped,
                "queued": len(self.queue), "queued_bytes": self.queued_bytes,
                "truncated": self.truncated, "cut_bytes": self.cut_bytes}
