"""The spool: an ordered queue of lines, in memory first, then in a file on disk."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import stat
import tempfile
import time
from collections import deque
from collections.abc import Iterator

from . import NAME

#: Bytes of events kept in memory at most, whatever ``filebeat/queue-size`` says.
MEMORY_MAX_BYTES = 64 * 1024 * 1024
#: Seconds before writing again to a spool file that refused a line (disk full, file
#: too large): the first wait, doubled at each failure up to the last.
WRITE_RETRY_MIN, WRITE_RETRY_MAX = 0.1, 5.0
SPOOL_FILE = "events.jsonl"


def default_spool_dir(plugin: str) -> str:
    """``<tmp>/drp-filebeat-<uid>/<plugin>``; the first part is made private (0700, ours)."""
    base = os.path.join(tempfile.gettempdir(), f"drp-filebeat-{os.getuid()}")
    _owned_folder(base)
    return os.path.join(base, plugin.replace("/", "_") or NAME)


def _owned_folder(path: str) -> None:
    """Create ``path`` (0700) unless it exists; it must be a real folder (not a link)
    of this user, and writable by nobody else: it may be in a shared /tmp, and
    whoever can write in it could plant a link where the spool file goes."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise OSError(f"{path} is not a folder owned by this user")
    if info.st_mode & 0o022:
        raise OSError(f"{path} is writable by other users (chmod go-w {path})")


def _open_own_file(path: str, flags: int) -> int:
    """``os.open`` that never follows a link; the file must be a regular file of ours."""
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
        os.close(fd)
        raise OSError(f"{path} is not a regular file owned by this user")
    return fd


class SpoolFile:
    """The on-disk part of the spool: ``<folder>/events.jsonl``, locked, read in order.

    Lines are written with ``os.write``, unbuffered: a write that fails (ENOSPC,
    EFBIG) leaves nothing behind, neither in a buffer nor, cut short, in the file.
    """

    def __init__(self, directory: str) -> None:
        parent = os.path.dirname(os.path.abspath(directory))
        if parent and not os.path.isdir(parent):
            os.makedirs(parent, mode=0o700, exist_ok=True)
        _owned_folder(directory)
        self.directory = directory
        self.path = os.path.join(directory, SPOOL_FILE)
        lock = _open_own_file(os.path.join(directory, "lock"), os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(lock)
            raise OSError(f"{directory} is in use by another filebeat plugin") from None
        self.lock = lock
        fds: list[int] = []
        try:
            # O_APPEND: after a truncate, writes go to the new end, not the old offset.
            fds.append(_open_own_file(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT))
            fds.append(_open_own_file(self.path, os.O_RDONLY))
            a, b = os.fstat(fds[0]), os.fstat(fds[1])
            if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino):
                raise OSError(f"{self.path} was replaced while being opened")
        except OSError:
            for fd in fds:
                os.close(fd)
            os.close(lock)
            raise
        self.fd = fds[0]
        self.read = os.fdopen(fds[1], "rb")
        # Lines a previous run left: they come first.  A torn last line is dropped.
        self.items, size, complete = 0, 0, 0
        while chunk := self.read.read(1 << 20):
            self.items += chunk.count(b"\n")
            last = chunk.rfind(b"\n")
            if last >= 0:
                complete = size + last + 1
            size += len(chunk)
        if complete != size:
            os.ftruncate(self.fd, complete)
        self.read.seek(0)
        self.unread = complete  # bytes
        self.size = complete  # bytes in the file

    def put(self, line: bytes) -> None:
        """Append ``line`` whole, or raise ``OSError`` having written nothing."""
        view = memoryview(line)
        try:
            while view:
                view = view[os.write(self.fd, view):]
        except OSError:
            if len(view) != len(line):  # a part went in: take it out again
                os.ftruncate(self.fd, self.size)
            raise
        self.size += len(line)
        self.items += 1
        self.unread += len(line)

    def take(self, max_bytes: int) -> list[bytes]:
        batch: list[bytes] = []
        size = 0
        while self.items and (not batch or size < max_bytes):
            line = self.read.readline()
            if not line.endswith(b"\n"):  # cannot happen: lines are written whole
                break
            batch.append(line)
            size += len(line)
            self.items -= 1
            self.unread -= len(line)
        if not self.items:  # read to its end: start over
            os.ftruncate(self.fd, 0)
            self.read.seek(0)
            self.unread = self.size = 0
        return batch

    def rest(self) -> Iterator[bytes]:
        """The unread bytes, in chunks."""
        while chunk := self.read.read(1 << 20):
            yield chunk

    def close(self, remove: bool) -> None:
        os.close(self.fd)
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
    When the file refuses a line (ENOSPC, EFBIG, EDQUOT, EIO), ``put`` waits too
    and writes it again after ``retry_min`` seconds, doubled up to ``retry_max``,
    or as soon as something was taken: the event stream is held back, nothing is
    lost, and forwarding goes on from memory and from the file meanwhile.
    """

    def __init__(self, disk: SpoolFile | None, memory_items: int, disk_max: int,
                 log: logging.Logger | logging.LoggerAdapter[logging.Logger],
                 retry_min: float = WRITE_RETRY_MIN, retry_max: float = WRITE_RETRY_MAX) -> None:
        self.disk = disk
        self.log = log
        self.memory: deque[bytes] = deque()
        self.memory_bytes = 0
        self.memory_items = memory_items
        self.disk_max = disk_max
        self.next_directory: str | None = None  # a new spool folder, once the file is read
        self.spilled = 0
        self.holds = 0  # times put had to wait
        self.write_failures = 0  # lines the spool file refused (and that were written again)
        self.retry_min, self.retry_max = retry_min, retry_max
        self._failing_since: float | None = None
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
        """Queue ``line``; waits while memory and disk are both full, or the disk fails."""
        delay: float | None = None
        async with self._changed:
            while True:
                if self._room_in_memory(len(line)):
                    self.memory.append(line)
                    self.memory_bytes += len(line)
                    break
                if self._room_on_disk(len(line)):
                    assert self.disk is not None
                    first = not self.disk.items
                    try:
                        self.disk.put(line)
                    except OSError as exc:
                        delay = self._refused(exc, delay)
                        try:
                            await asyncio.wait_for(self._changed.wait(), delay)
                        except (TimeoutError, asyncio.TimeoutError):
                            pass
                        continue
                    self._written()
                    if first:
                        self._spilling()
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

    def _refused(self, exc: OSError, delay: float | None) -> float:
        """Count a failed write, say so once per outage; the next wait."""
        self.write_failures += 1
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            assert self.disk is not None
            self.log.error("filebeat: cannot write to the spool file %s (%s): holding the event "
                           "stream back and trying again; nothing is lost", self.disk.path,
                           exc.strerror or exc)
        return self.retry_min if delay is None else min(delay * 2, self.retry_max)

    def _written(self) -> None:
        if self._failing_since is not None:
            self.log.warning("filebeat: the spool file takes events again after %.1fs",
                             time.monotonic() - self._failing_since)
            self._failing_since = None

    def _spilling(self) -> None:
        """Say so, at most once a minute (each log line is a DRP event too)."""
        now = time.monotonic()
        if self._spill_logged is None or now - self._spill_logged >= 60:
            self._spill_logged = now
            assert self.disk is not None
            self.log.warning("filebeat: %d events waiting: spilling to %s", len(self.memory),
                             self.disk.path)

    async def take(self, max_bytes: int, timeout: float | None) -> list[bytes]:
        """The oldest lines: at least one, unless ``timeout`` passes or :meth:`interrupt`."""
        async with self._changed:
            if not len(self):
                try:
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: len(self) > 0 or self._interrupted),
                        timeout)
                except (TimeoutError, asyncio.TimeoutError):
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
        try:
            os.unlink(tmp)  # whatever is there, a link included: never written through
        except FileNotFoundError:
            pass
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        with os.fdopen(fd, "wb") as out:
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
