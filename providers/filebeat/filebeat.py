#!/usr/bin/env python3
"""filebeat: forward DRP events, as JSON lines, to a file or a TCP peer (Filebeat, Logstash).

A port of the Go provider ``filebeat`` of digitalrebar/provision-plugins.

Params of the plugin: ``filebeat/events`` (the event selections, ``*.*.*`` by
default), ``filebeat/mode`` (``file`` or ``tcp``), ``filebeat/path`` (file mode),
``filebeat/tcp`` (``host:port``, tcp mode), and for the buffering this port adds:
``filebeat/queue-size``, ``filebeat/spool-dir``, ``filebeat/spool-max-bytes``.

Every event becomes one line of JSON with the fields of DRP's ``models.Event``
(``Time``, ``Type``, ``Action``, ``Key``, ``Principal``, ``Object``, ``Original``).
Machine events are filtered like the Go provider does: the machine's
``gohai-inventory`` param is emptied and its ``OS`` field is renamed ``MachineOS``.

Nothing is dropped on the way::

    event stream --> pump --> spool (memory queue, then a disk file) --> forwarder --> sink

- The event stream of :mod:`drp_plugin.events` is lossless and applies
  backpressure; the pump feeds the spool in order.
- The spool keeps ``filebeat/queue-size`` events in memory; when they are not
  taken fast enough (the TCP peer is down) further events are appended to a file
  in ``filebeat/spool-dir`` and read back in order.  When that file reaches
  ``filebeat/spool-max-bytes`` too, the pump waits, and with it the event stream
  (backpressure up to DRP).
- The forwarder writes to the sink and retries what fails.  In tcp mode an event
  counts as sent once the peer's TCP stack acknowledged its bytes (Linux
  ``SIOCOUTQ``); when the connection breaks, the forwarder reconnects and sends
  again everything not acknowledged, in order.  Delivery is therefore
  *at least once*: after a broken connection the peer may see a few events twice.
  In file mode the file is opened in append mode (created 0600) and reopened when
  it was rotated (moved or deleted); copy-and-truncate rotation works as is.
- Stop flushes (bounded); what could not be delivered in time is written to the
  spool file, sent first by the next start.
"""

from __future__ import annotations

import os

from drp_plugin import Context, PluginError, Provider

TYPE_CHECKING = False  # typing and asyncio stay out of `define` (start-up time)
if TYPE_CHECKING:
    import asyncio
    import logging
    from collections import deque
    from collections.abc import Iterator
    from typing import Any

    from drp_plugin.api import AsyncClient
    from drp_plugin.events import EventStream, Pattern, Subscription
    from drp_plugin.models import Event

NAME = "filebeat"
DEFAULT_PATH = "/var/log/filebeat-plugin/json.log"
DEFAULT_TCP = "127.0.0.1:9000"
DEFAULT_QUEUE_SIZE = 10_000
DEFAULT_SPOOL_MAX = 1024 * 1024 * 1024
#: Bytes of events kept in memory at most, whatever ``filebeat/queue-size`` says.
MEMORY_MAX_BYTES = 64 * 1024 * 1024
#: Bytes written to the sink in one go.
WRITE_CHUNK = 256 * 1024
#: Seconds stop may spend delivering what is queued (DRP waits for /stop).
STOP_FLUSH = 3.0
CONNECT_TIMEOUT = 5.0
#: Seconds a peer that closed its side may keep a write waiting before a reset.
EOF_GRACE = 10.0
RETRY_MIN, RETRY_MAX = 0.1, 3.0
#: Seconds between checks that sent bytes were acknowledged, while some are not.
CONFIRM_POLL = 0.02
SPOOL_FILE = "events.jsonl"

provider = Provider(
    NAME,
    description="Forwards DRP events as JSON lines to a file or a TCP peer for Filebeat",
    content="content",
    auto_start=True,
    required_params=["filebeat/events"],
    optional_params=["filebeat/path", "filebeat/mode", "filebeat/tcp", "filebeat/queue-size",
                     "filebeat/spool-dir", "filebeat/spool-max-bytes"],
    documentation=(
        "Forwards the DRP events selected by ``filebeat/events`` as JSON lines to the file "
        "``filebeat/path`` or the TCP peer ``filebeat/tcp``, for Filebeat or Logstash."
    ),
)


def _error(message: str, code: int) -> PluginError:
    return PluginError(message, code=code, model="plugin", key=NAME, type="rpc")


# -- what DRP events become ---------------------------------------------------------------------

def _rename_os(obj: dict[str, Any]) -> None:
    if "OS" in obj:
        obj["MachineOS"] = obj.pop("OS")


def shape_event(raw: dict[str, Any]) -> dict[str, Any]:
    """The JSON object written for one event (the Go provider's ``filter``).

    The fields of ``models.Event``, in that shape whatever the server sent.  For
    machine events, ``Object.Params["gohai-inventory"]`` becomes ``{}`` (always
    present, as the Go provider sets it) and ``OS`` is renamed ``MachineOS`` in
    ``Object`` and ``Original``; an ``Original`` that has ``gohai-inventory`` has
    it emptied too.  Nothing of ``raw`` is modified.
    """
    data: dict[str, Any] = {
        "Time": raw.get("Time") or "0001-01-01T00:00:00Z",
        "Type": raw.get("Type") or "",
        "Action": raw.get("Action") or "",
        "Key": raw.get("Key") or "",
        "Principal": raw.get("Principal") or "",
        "Object": raw.get("Object"),
        "Original": raw.get("Original"),
    }
    if data["Type"] != "machines":
        return data
    obj = data["Object"]
    if isinstance(obj, dict):
        obj = dict(obj)
        params = obj.get("Params")
        params = dict(params) if isinstance(params, dict) else {}
        params["gohai-inventory"] = {}
        obj["Params"] = params
        _rename_os(obj)
        data["Object"] = obj
    original = data["Original"]
    if isinstance(original, dict):
        original = dict(original)
        params = original.get("Params")
        if isinstance(params, dict) and "gohai-inventory" in params:
            original["Params"] = {**params, "gohai-inventory": {}}
        _rename_os(original)
        data["Original"] = original
    return data


def encode_event(raw: dict[str, Any]) -> bytes:
    """One event as one line of JSON (keys sorted, like Go's ``json.Marshal`` of a map)."""
    import json

    text = json.dumps(shape_event(raw), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=str)
    return text.encode("utf-8", errors="replace") + b"\n"


# -- settings ---------------------------------------------------------------------------------------

def _split_hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(text)
    return host, int(port)


def _integer(params: dict[str, Any], name: str, default: int, minimum: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise _error(f"{name} must be an integer", 400)
    if value < minimum:
        raise _error(f"{name} must be at least {minimum}", 400)
    return int(value)


class Settings:
    """A checked config: nothing here is applied before all of it is valid."""

    def __init__(self, params: dict[str, Any]) -> None:
        from drp_plugin.events import Pattern

        mode = params.get("filebeat/mode", "file")
        if not isinstance(mode, str):
            raise _error("filebeat/mode not a string", 500)
        if "filebeat/events" not in params:
            raise _error("filebeat/events not specified", 500)
        events = params["filebeat/events"]
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise _error("filebeat/events not valid: must be a list of strings", 500)
        try:
            self.patterns: list[Pattern] = [Pattern(e.strip()) for e in dict.fromkeys(events)]
        except ValueError as exc:
            raise _error(f"filebeat/events not valid: {exc}", 500) from None
        self.selections = [p.text for p in self.patterns]
        self.mode = mode
        self.path = ""
        self.host, self.port = "", 0
        if mode == "file":
            path = params.get("filebeat/path", DEFAULT_PATH)
            if not isinstance(path, str) or not path:
                raise _error("filebeat/path not a string", 500)
            self.path = os.path.abspath(path)
        elif mode == "tcp":
            tcp = params.get("filebeat/tcp", DEFAULT_TCP)
            if not isinstance(tcp, str):
                raise _error("filebeat/tcp not a string", 500)
            try:
                self.host, self.port = _split_hostport(tcp)
            except ValueError:
                raise _error(f"filebeat/tcp is not host:port: {tcp}", 400) from None
        else:
            raise _error(f"filebeat/mode is not valid: {mode}", 400)
        spool_dir = params.get("filebeat/spool-dir", "")
        if not isinstance(spool_dir, str):
            raise _error("filebeat/spool-dir not a string", 500)
        self.spool_dir = spool_dir
        self.queue_size = _integer(params, "filebeat/queue-size", DEFAULT_QUEUE_SIZE, 1)
        self.spool_max = _integer(params, "filebeat/spool-max-bytes", DEFAULT_SPOOL_MAX, 0)

    @property
    def destination(self) -> str:
        return self.path if self.mode == "file" else f"{self.host}:{self.port}"

    def sink(self) -> FileSink | TcpSink:
        return FileSink(self.path) if self.mode == "file" else TcpSink(self.host, self.port)


# -- sinks ---------------------------------------------------------------------------------------

class SinkError(Exception):
    """Writing to the sink failed (what reached it is counted in the sink's ``written``)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause) or type(cause).__name__)


class FileSink:
    """Appends to ``path`` (created 0600 in a 0700 folder), following rotation.

    Before each write the file at ``path`` is compared (device, inode) with the
    open one: when it was moved or deleted, ``path`` is opened (created) again.
    ``written`` counts the bytes written, whole lines only: a failed write that
    left part of a line is cut back to the last whole line.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None
        self.written = 0
        self.reopened = 0
        self._pending: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return f"file {self.path}"

    def same_as(self, other: FileSink | TcpSink) -> bool:
        return isinstance(other, FileSink) and other.path == self.path

    @property
    def broken(self) -> bool:
        return False

    def check(self) -> None:
        """Config-time check: the folder and the file can be created and opened."""
        os.close(self._open_fd())

    def _open_fd(self) -> int:
        os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)

    async def open(self) -> None:
        import asyncio

        fd = await asyncio.to_thread(self._open_fd)
        await self.close()
        self.fd = fd

    def _rotated(self, fd: int) -> bool:
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            return True
        mine = os.fstat(fd)
        return (now.st_dev, now.st_ino) != (mine.st_dev, mine.st_ino)

    def _write(self, data: bytes) -> None:
        """Runs in a worker thread."""
        try:
            if self.fd is None or self._rotated(self.fd):
                if self.fd is not None:
                    os.close(self.fd)
                    self.fd = None
                    self.reopened += 1
                self.fd = self._open_fd()
            fd = self.fd
            start = os.fstat(fd).st_size
        except OSError as exc:
            raise SinkError(exc) from exc
        view, done, lines = memoryview(data), 0, 0
        try:
            while done < len(data):
                done += os.write(fd, view[done:])
                whole = data.rfind(b"\n", 0, done) + 1
                self.written += whole - lines
                lines = whole
        except OSError as exc:
            if done != lines:  # a partial line would corrupt the next one
                try:
                    os.ftruncate(fd, start + lines)
                except OSError:
                    pass
            raise SinkError(exc) from exc

    async def write(self, data: bytes) -> None:
        import asyncio

        # Shielded: a cancelled caller does not stop the thread, and close() waits for it.
        self._pending = asyncio.ensure_future(asyncio.to_thread(self._write, data))
        await asyncio.shield(self._pending)

    def unacknowledged(self) -> int:
        return 0

    async def close(self) -> None:
        import asyncio

        pending, self._pending = self._pending, None
        if pending is not None and not pending.done():
            await asyncio.wait([pending], timeout=5.0)
            if not pending.done():  # a hung file system: leak the fd rather than
                return              # let the thread write into a reused number
        fd, self.fd = self.fd, None
        if fd is not None:
            try:
                os.fsync(fd)
            except OSError:
                pass
            os.close(fd)


def _tune_keepalive(sock: Any) -> None:
    """Let the kernel declare a silent peer dead (keepalive, TCP_USER_TIMEOUT)."""
    import socket

    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3),
                        ("TCP_USER_TIMEOUT", 60_000)):
        if hasattr(socket, name):
            options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    for level, option, value in options:
        try:
            sock.setsockopt(level, option, value)
        except OSError:
            pass


class TcpSink:
    """A TCP connection to ``host:port`` that knows how much the peer acknowledged.

    ``written`` counts the bytes handed to the current connection.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.writer: asyncio.StreamWriter | None = None
        self.written = 0
        self.lost = False
        self._watcher: asyncio.Task[None] | None = None
        self._outq_works = True

    def __repr__(self) -> str:
        return f"tcp {self.host}:{self.port}"

    def same_as(self, other: FileSink | TcpSink) -> bool:
        return isinstance(other, TcpSink) and (other.host, other.port) == (self.host, self.port)

    def check(self) -> None:
        return None

    @property
    def broken(self) -> bool:
        return self.lost or self.writer is None or self.writer.transport.is_closing()

    async def open(self) -> None:
        import asyncio

        await self.close()
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), CONNECT_TIMEOUT)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            _tune_keepalive(sock)
        self.writer, self.written, self.lost = writer, 0, False
        self._watcher = asyncio.create_task(self._watch(reader))

    async def _watch(self, reader: asyncio.StreamReader) -> None:
        """The peer never talks: end of stream or an error means the connection is gone.

        After the peer's end of stream, what it still reads reaches it (the close is
        graceful); but a peer that stops reading too would hold a write forever, so
        after ``EOF_GRACE`` seconds with bytes still waiting the connection is reset.
        """
        import asyncio

        try:
            while await reader.read(65536):
                pass
        except OSError:
            pass
        self.lost = True
        writer = self.writer
        waited = 0.0
        while writer is not None and not writer.transport.is_closing() \
                and writer.transport.get_write_buffer_size():
            if waited >= EOF_GRACE:
                writer.transport.abort()
                break
            await asyncio.sleep(0.1)
            waited += 0.1

    async def write(self, data: bytes) -> None:
        writer = self.writer
        if writer is None or self.broken:
            raise SinkError(ConnectionResetError("connection lost"))
        try:
            writer.write(data)
            self.written += len(data)
            await writer.drain()
        except (OSError, RuntimeError) as exc:
            self.lost = True
            raise SinkError(exc) from exc

    def unacknowledged(self) -> int:
        """Bytes written and not yet acknowledged by the peer's TCP stack.

        The transport's own buffer plus the socket's send queue (``SIOCOUTQ``:
        bytes sent and not acknowledged, or not sent yet).  Without ``SIOCOUTQ``
        (not Linux), bytes the kernel accepted count as acknowledged; without a
        socket, nothing does.
        """
        writer = self.writer
        if writer is None:
            return self.written
        pending = writer.transport.get_write_buffer_size()
        sock = writer.get_extra_info("socket")
        if sock is None or sock.fileno() < 0:
            return self.written
        if self._outq_works:
            import fcntl
            import struct
            import termios

            try:
                raw = fcntl.ioctl(sock.fileno(), getattr(termios, "TIOCOUTQ", 0x5411), b"\0" * 4)
                pending += struct.unpack("i", raw)[0]
            except OSError:
                if self.broken:
                    return self.written
                self._outq_works = False
        return min(pending, self.written)

    async def close(self) -> None:
        import asyncio
        import contextlib

        writer, self.writer = self.writer, None
        watcher, self._watcher = self._watcher, None
        if writer is not None:
            writer.close()  # graceful: what is buffered still goes out
            try:
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            except TimeoutError:
                # A peer that does not read keeps it open: reset it after a while.
                asyncio.get_running_loop().call_later(EOF_GRACE, writer.transport.abort)
            except OSError:
                pass
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


# -- the spool ---------------------------------------------------------------------------------------

def default_spool_dir(plugin: str) -> str:
    """``<tmp>/drp-filebeat-<uid>/<plugin>``; the first part is made private (0700, ours)."""
    import tempfile

    base = os.path.join(tempfile.gettempdir(), f"drp-filebeat-{os.getuid()}")
    _owned_folder(base, private=True)
    return os.path.join(base, plugin.replace("/", "_") or NAME)


def _owned_folder(path: str, private: bool = False) -> None:
    """Create ``path`` (0700) unless it exists; it must be a real folder of this user
    (and, ``private``, writable by nobody else: it may be in a shared /tmp)."""
    import stat

    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise OSError(f"{path} is not a folder owned by this user")
    if private and info.st_mode & 0o022:
        raise OSError(f"{path} is writable by other users")


class SpoolFile:
    """The on-disk part of the spool: ``<folder>/events.jsonl``, locked, read in order."""

    def __init__(self, directory: str) -> None:
        import fcntl

        parent = os.path.dirname(os.path.abspath(directory))
        if parent and not os.path.isdir(parent):
            os.makedirs(parent, mode=0o700, exist_ok=True)
        _owned_folder(directory)
        self.directory = directory
        self.path = os.path.join(directory, SPOOL_FILE)
        lock = os.open(os.path.join(directory, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                       0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(lock)
            raise OSError(f"{directory} is in use by another filebeat plugin") from None
        self.lock = lock
        try:
            # O_APPEND: after a truncate, writes go to the new end, not the old offset.
            self.append = os.fdopen(os.open(
                self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600), "ab")
            self.read = open(self.path, "rb")  # noqa: SIM115 - open while spooling
        except OSError:
            os.close(lock)
            raise
        # Lines a previous run left: they come first.  A torn last line is dropped.
        self.items, size, complete = 0, 0, 0
        while chunk := self.read.read(1 << 20):
            self.items += chunk.count(b"\n")
            last = chunk.rfind(b"\n")
            if last >= 0:
                complete = size + last + 1
            size += len(chunk)
        if complete != size:
            self.append.truncate(complete)
        self.read.seek(0)
        self.unread = complete  # bytes

    def put(self, line: bytes) -> None:
        self.append.write(line)
        self.append.flush()
        self.items += 1
        self.unread += len(line)

    def take(self, max_bytes: int) -> list[bytes]:
        batch: list[bytes] = []
        size = 0
        while self.items and (not batch or size < max_bytes):
            line = self.read.readline()
            if not line.endswith(b"\n"):  # cannot happen: lines are flushed whole
                break
            batch.append(line)
            size += len(line)
            self.items -= 1
            self.unread -= len(line)
        if not self.items:  # read to its end: start over
            self.append.truncate(0)
            self.read.seek(0)
            self.unread = 0
        return batch

    def rest(self) -> Iterator[bytes]:
        """The unread bytes, in chunks."""
        self.append.flush()
        while chunk := self.read.read(1 << 20):
            yield chunk

    def close(self, remove: bool) -> None:
        self.append.close()
        self.read.close()
        if remove:
            try:
                os.unlink(self.path)
            except OSError:
                pass
        os.close(self.lock)


class Spool:
    """An ordered queue of lines: ``memory_items`` in memory, then a spool file.

    A line goes to memory only while the file holds nothing unread, so memory
    always holds older lines than the file, and ``take`` reads memory first:
    the order is the order of ``put``.  When the file's unread part reaches
    ``disk_max`` bytes as well (or there is no spool folder), ``put`` waits.
    """

    def __init__(self, disk: SpoolFile | None, memory_items: int, disk_max: int,
                 log: logging.Logger | logging.LoggerAdapter[logging.Logger]) -> None:
        import asyncio
        from collections import deque

        self.disk = disk
        self.log = log
        self.memory: deque[bytes] = deque()
        self.memory_bytes = 0
        self.memory_items = memory_items
        self.disk_max = disk_max
        self.next_directory: str | None = None  # a new spool folder, once the file is read
        self.spilled = 0
        self.holds = 0  # times put had to wait
        self._changed = asyncio.Condition()
        self._interrupted = False
        self._holding = False
        self._spill_logged: float | None = None

    @property
    def disk_items(self) -> int:
        return self.disk.items if self.disk is not None else 0

    @property
    def file(self) -> str | None:
        return self.disk.path if self.disk is not None else None

    def __len__(self) -> int:
        return len(self.memory) + self.disk_items

    def _room_in_memory(self, size: int) -> bool:
        return (self.disk_items == 0 and len(self.memory) < self.memory_items
                and (not self.memory or self.memory_bytes + size <= MEMORY_MAX_BYTES))

    def _room_on_disk(self, size: int) -> bool:
        return self.disk is not None and (self.disk.unread + size <= self.disk_max
                                          or not self.disk.items)

    async def put(self, line: bytes) -> None:
        """Queue ``line``; waits while memory and disk are both full."""
        async with self._changed:
            while True:
                if self._room_in_memory(len(line)):
                    self.memory.append(line)
                    self.memory_bytes += len(line)
                    break
                if self._room_on_disk(len(line)):
                    assert self.disk is not None
                    if not self.disk.items:
                        self._spilling()
                    self.disk.put(line)
                    self.spilled += 1
                    break
                if not self._holding:
                    self._holding = True
                    self.holds += 1
                    self.log.warning("filebeat: queue full (%d events in memory, %d on disk): "
                                     "holding the event stream back", len(self.memory),
                                     self.disk_items)
                await self._changed.wait()
            self._holding = False
            self._changed.notify_all()

    def _spilling(self) -> None:
        """Say so, at most once a minute (each log line is a DRP event too)."""
        import time

        now = time.monotonic()
        if self._spill_logged is None or now - self._spill_logged >= 60:
            self._spill_logged = now
            assert self.disk is not None
            self.log.warning("filebeat: %d events waiting: spilling to %s", len(self.memory),
                             self.disk.path)

    async def take(self, max_bytes: int, timeout: float | None) -> list[bytes]:
        """The oldest lines: at least one, unless ``timeout`` passes or :meth:`interrupt`."""
        import asyncio

        async with self._changed:
            if not len(self):
                try:
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: len(self) > 0 or self._interrupted),
                        timeout)
                except TimeoutError:
                    return []
            self._interrupted = False
            batch: list[bytes] = []
            size = 0
            while self.memory and (not batch or size + len(self.memory[0]) <= max_bytes):
                line = self.memory.popleft()
                self.memory_bytes -= len(line)
                batch.append(line)
                size += len(line)
            if not batch and self.disk is not None and self.disk.items:
                batch = self.disk.take(max_bytes)
                if not self.disk.items:
                    self._move_disk()
            self._changed.notify_all()
            return batch

    async def interrupt(self) -> None:
        """Make a waiting :meth:`take` return (empty)."""
        async with self._changed:
            self._interrupted = True
            self._changed.notify_all()

    def _move_disk(self) -> None:
        """The spool file is empty: switch to a new spool folder if one was configured."""
        target, self.next_directory = self.next_directory, None
        if target is None or self.disk is None or target == self.disk.directory:
            return
        try:
            disk = SpoolFile(target)
        except OSError as exc:
            self.log.error("filebeat: spool folder %s is unusable, keeping %s: %s",
                           target, self.disk.directory, exc)
            return
        self.disk.close(remove=True)
        self.disk = disk
        if disk.items:
            self.log.info("filebeat: %d event(s) found in %s are queued", disk.items, disk.path)

    def persist(self, first: list[bytes], last: list[bytes]) -> tuple[int, int]:
        """Write ``first``, what is queued and ``last`` to the spool file (next start).

        Returns (events kept, events lost for want of a spool folder).
        """
        total = len(first) + len(self) + len(last)
        if not total or self.disk is None:
            return 0, total
        tmp = self.disk.path + ".new"
        with open(tmp, "wb") as out:
            os.chmod(tmp, 0o600)
            out.writelines(first)
            out.writelines(self.memory)
            for chunk in self.disk.rest():
                out.write(chunk)
            out.writelines(last)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.disk.path)
        self.memory.clear()
        self.memory_bytes = 0
        self.disk.close(remove=False)
        self.disk = None
        return total, 0

    def close(self) -> None:
        if self.disk is not None:
            self.disk.close(remove=not self.disk.items)
            self.disk = None


# -- the forwarder -------------------------------------------------------------------------------------

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
        import asyncio
        from collections import deque

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
        import asyncio

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
        import asyncio

        try:
            await asyncio.wait_for(self._wake.wait(), delay)
        except TimeoutError:
            pass
        self._wake.clear()

    def _trouble(self, message: str, *args: Any) -> None:
        """Log the first failure of an outage only: each log line is itself a DRP event."""
        import time

        if self._down_since is None:
            self._down_since = time.monotonic()
            self.log.error(message, *args)

    def _recovered(self) -> None:
        import time

        if self._down_since is not None:
            self.log.warning("filebeat: %s works again after %.1fs; %d event(s) to send",
                             self.sink, time.monotonic() - self._down_since,
                             len(self.unsent) + len(self.spool))
        self._down_since, self._failures = None, 0

    async def _swap_sink(self) -> None:
        import asyncio

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
        import asyncio

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
        import asyncio
        import time

        deadline = time.monotonic() + timeout
        while not self.idle:
            if time.monotonic() >= deadline or self._task is None or self._task.done():
                return False
            await asyncio.sleep(CONFIRM_POLL)
        return True

    async def stop(self) -> list[bytes]:
        """Stop; returns the lines taken from the spool and not delivered, in order."""
        import asyncio
        import contextlib

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


# -- the pump ------------------------------------------------------------------------------------------

class Pump:
    """Reads the event subscription and queues each event's line in the spool.

    On a re-config with other selections, :meth:`hand_over` gets a subscription
    already registered for them; the pump finishes the events the old one had
    received, then skips the new one's first events when they are those same
    events (an event can match both), so the switch loses and doubles nothing.
    """

    def __init__(self, spool: Spool,
                 log: logging.Logger | logging.LoggerAdapter[logging.Logger]) -> None:
        import asyncio

        self.spool = spool
        self.log = log
        self.subscription: Subscription | None = None
        self.received = 0
        self.gaps = 0
        self._next: tuple[Subscription | None, list[Pattern]] | None = None
        self._wake = asyncio.Event()
        self._skip: list[Event] | None = None
        self._in_flight: bytes | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self, subscription: Subscription | None) -> None:
        import asyncio

        self.subscription = subscription
        self._task = asyncio.create_task(self._run(), name="filebeat-pump")

    async def hand_over(self, subscription: Subscription | None,
                        patterns: list[Pattern]) -> None:
        previous, self._next = self._next, (subscription, patterns)
        if previous is not None and previous[0] is not None:
            await previous[0].close()  # a hand-over that never happened
        self._wake.set()

    async def _next_event(self, subscription: Subscription) -> Event | None:
        """The next event, or None when woken up (hand-over, stop) first."""
        import asyncio

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
        from drp_plugin.events import StreamClosed

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
        new, patterns = self._next
        self._next = None
        old, overlap = self.subscription, []
        if old is not None and old is not new:
            for _ in range(old.pending):  # what the old selections received so far
                event = await old.get()
                await self._handle(event)
                if any(p.matches(event) for p in patterns):
                    overlap.append(event)
            await old.close()
        self.subscription = new
        self._skip = overlap or None

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
        self._in_flight = line
        await self.spool.put(line)
        self._in_flight = None

    async def stop(self, timeout: float) -> list[bytes]:
        """Queue what the subscription received (bounded), stop reading it.

        Returns the lines that could not be queued in time, in order.
        """
        import asyncio
        import contextlib

        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            except Exception:  # what it did not queue is still handled below
                self.log.exception("filebeat: the event pump failed while stopping")
        left = [self._in_flight] if self._in_flight is not None else []
        self._in_flight = None
        subscription, self.subscription = self.subscription, None
        pending, self._next = self._next, None
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


# -- the plugin ----------------------------------------------------------------------------------------

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
        from drp_plugin.events import EventStream

        if not settings.selections:
            return None
        if self.stream is None:
            self.stream = EventStream(self.api)
        try:
            return await self.stream.subscribe(*settings.selections)
        except Exception as exc:
            raise _error(f"Unable to create event stream: {exc}", 500) from None

    async def start(self, settings: Settings, sink: FileSink | TcpSink) -> None:
        disk: SpoolFile | None = None
        try:
            directory = self._spool_dir(settings)
            if directory is not None:
                disk = SpoolFile(directory)
        except OSError as exc:
            if settings.spool_dir:
                raise _error(f"filebeat/spool-dir: {exc}", 400) from None
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
        # The new subscription first: if it fails, nothing changed.
        changed = settings.selections != self.settings.selections
        subscription = await self._subscribe(settings) if changed else None
        if not sink.same_as(self.forwarder.target):
            await self.forwarder.switch(sink)
        if changed:
            await self.pump.hand_over(subscription, settings.patterns)
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
        import time

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
        except OSError as exc:
            kept, lost = 0, len(first) + len(self.spool) + len(last)
            self.log.error("filebeat: cannot write the spool file: %s", exc)
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


_pipeline: Pipeline | None = None


@provider.config
async def configure(ctx: Context, params: dict[str, Any]) -> None:
    """Check everything, then apply: a refused config leaves the running one as it was."""
    global _pipeline

    settings = Settings(params)
    sink = settings.sink()
    try:
        sink.check()
    except OSError as exc:
        raise _error(f"Err: {exc}: file: {settings.path}", 400) from None
    if _pipeline is None:
        pipeline = Pipeline(ctx.api, ctx.plugin or NAME, ctx.log)
        await pipeline.start(settings, sink)
        _pipeline = pipeline
    else:
        await _pipeline.reconfigure(settings, sink)
    ctx.log.info("filebeat: forwarding %s to %s %s", ", ".join(settings.selections) or "nothing",
                 settings.mode, settings.destination)


@provider.stop
async def stop(ctx: Context) -> None:
    global _pipeline

    pipeline, _pipeline = _pipeline, None
    if pipeline is not None:
        await pipeline.stop()


if __name__ == "__main__":
    provider.main()
