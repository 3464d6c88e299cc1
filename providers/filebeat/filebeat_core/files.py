"""The file sink: appends whole lines to a file, reopening it when it was rotated."""

from __future__ import annotations

import asyncio
import errno
import os
from typing import TYPE_CHECKING

from .errors import SinkError

if TYPE_CHECKING:
    from .tcp import TcpSink


class FileSink:
    """Appends to ``path`` (created 0600 in a 0700 folder), following rotation.

    Before each write the file at ``path`` is compared (device, inode) with the
    open one: when it was moved or deleted, ``path`` is opened (created) again.
    The file is opened with ``O_NOFOLLOW``, at start and after every rotation: a
    symbolic link planted at ``path`` is refused (``ELOOP``), never written through.
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
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        try:
            return os.open(self.path, flags, 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise OSError(errno.ELOOP, f"{self.path} is a symbolic link: refusing to "
                                           "follow it") from None
            raise

    async def open(self) -> None:
        fd = await asyncio.to_thread(self._open_fd)
        await self.close()
        self.fd = fd

    def _rotated(self, fd: int) -> bool:
        try:
            now = os.lstat(self.path)  # a link put in its place is a new file, never followed
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
        # Shielded: a cancelled caller does not stop the thread, and close() waits for it.
        self._pending = asyncio.ensure_future(asyncio.to_thread(self._write, data))
        await asyncio.shield(self._pending)

    def unacknowledged(self) -> int:
        return 0

    async def close(self) -> None:
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
