"""Keep the provider's own stdout and stderr from outliving it.

A process a handler starts inherits file descriptors 1 and 2.  When those are the
pipes DRP (or any host) reads the provider's output from, that child keeps them
open after the provider exited, and a host that reads until end-of-file waits for
the child too.  While ``listen`` runs, :class:`StdioShield` points descriptors 1
and 2 at pipes of its own and copies what arrives there to the real stdout and
stderr (held on descriptors that are not inherited).  Children's output still
reaches the host while the provider lives; once it is gone, they write into a
closed pipe (``EPIPE``), and the host sees end-of-file as soon as the provider
itself exits.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading

_CHUNK = 65536


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class StdioShield:
    """Re-points descriptors 1 and 2 at forwarded pipes; :meth:`restore` undoes it."""

    def __init__(self) -> None:
        self._pairs: list[tuple[int, int, int]] = []  # (target fd, saved real fd, pipe read end)
        self._wake_r = self._wake_w = -1
        self._stop = False
        self._thread: threading.Thread | None = None

    @property
    def installed(self) -> bool:
        """Whether descriptors 1 and 2 are shielded right now."""
        return bool(self._pairs)

    def install(self) -> bool:
        """Shield descriptors 1 and 2; False (and nothing changed) when one is not open."""
        if self._pairs:
            return True
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.flush()
        try:
            os.fstat(1)
            os.fstat(2)
        except OSError:
            return False
        for fd in (1, 2):
            real = os.dup(fd)  # not inherited (PEP 446)
            read_end, write_end = os.pipe()
            os.dup2(write_end, fd)  # inherited, like any stdout
            os.close(write_end)
            self._pairs.append((fd, real, read_end))
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._forward, name="drp-plugin-stdio",
                                        daemon=True)
        self._thread.start()
        return True

    def _forward(self) -> None:
        sources = {read_end: real for _, real, read_end in self._pairs}
        while not self._stop and sources:
            try:
                ready, _, _ = select.select([*sources, self._wake_r], [], [])
            except (OSError, ValueError):
                return
            for fd in ready:
                if fd == self._wake_r:
                    continue
                try:
                    data = os.read(fd, _CHUNK)
                except OSError:
                    data = b""
                if not data:
                    sources.pop(fd, None)
                    continue
                with contextlib.suppress(OSError):
                    _write_all(sources[fd], data)

    def restore(self, timeout: float = 0.5) -> None:
        """Copy what is still buffered, point 1 and 2 back at the real streams, close the pipes.

        Bounded by ``timeout``: a host that stopped reading must not hold the exit.
        """
        if not self._pairs:
            return
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.flush()
        self._stop = True
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        stopped = True
        if self._thread is not None:
            self._thread.join(timeout)
            stopped = not self._thread.is_alive()
        for fd, real, read_end in self._pairs:
            if stopped:
                self._drain(read_end, real)
            os.dup2(real, fd)
            os.close(real)
            if stopped:  # else the forwarder may still read it: leave it open
                os.close(read_end)
        self._pairs = []
        if stopped:
            for fd in (self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)

    @staticmethod
    def _drain(read_end: int, real: int) -> None:
        os.set_blocking(read_end, False)
        while True:
            try:
                data = os.read(read_end, _CHUNK)
            except (BlockingIOError, OSError):
                return
            if not data:
                return
            try:
                _write_all(real, data)
            except OSError:
                return
