"""Whether DRP is still there: probes of the from-plugin socket.

DRP is *gone* only when its socket file is missing or nobody accepts on it
(``ENOENT``, ``ECONNREFUSED``, ...).  Anything else a probe can hit says nothing
about DRP: out of file descriptors (``EMFILE``/``ENFILE``), out of buffers or
memory, a connect that times out because DRP is busy.  Those are *unknown*: they
neither start nor reset the grace period, and each kind is reported once on
stderr (never through the log: shipping a line would need a descriptor too).
"""

from __future__ import annotations

import asyncio
import errno
import socket
import sys
from collections.abc import Callable

UP = "up"
GONE = "gone"
UNKNOWN = "unknown"

#: Errors of ``connect()`` that mean nobody serves the socket any more.
GONE_ERRNOS = frozenset({errno.ENOENT, errno.ECONNREFUSED, errno.ENOTDIR, errno.ENOTSOCK,
                         errno.ECONNRESET})


async def probe(path: str, timeout: float = 2.0) -> tuple[str, str]:
    """Connect to ``path`` once: ``(UP | GONE | UNKNOWN, detail)``."""
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    except OSError as exc:  # EMFILE / ENFILE / ENOBUFS: our problem, not DRP's
        return UNKNOWN, _describe(exc)
    try:
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.sock_connect(sock, path), timeout)
    except asyncio.TimeoutError:
        return UNKNOWN, f"connect timed out after {timeout:g}s"
    except OSError as exc:
        return (GONE if exc.errno in GONE_ERRNOS else UNKNOWN), _describe(exc)
    finally:
        sock.close()
    return UP, ""


def _describe(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0, "")
    return f"{name}: {exc.strerror or exc}" if name else str(exc)


class DrpWatchdog:
    """Calls ``on_gone`` once DRP's socket has been gone for ``grace`` seconds."""

    def __init__(self, path: str, on_gone: Callable[[], object], *, grace: float = 30.0,
                 interval: float = 1.0, probe_timeout: float = 2.0) -> None:
        self.path = path
        self.on_gone = on_gone
        self.grace = grace
        self.interval = interval
        self.probe_timeout = probe_timeout
        self.gone_since: float | None = None
        self._reported: set[str] = set()

    async def run(self) -> None:
        """Probe every ``interval`` seconds until DRP is gone for good (then return)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.interval)
            state, detail = await probe(self.path, self.probe_timeout)
            if self.step(state, detail, loop.time()):
                self.on_gone()
                return

    def step(self, state: str, detail: str, now: float) -> bool:
        """Account one probe result; True when DRP is gone for good."""
        if state == UP:
            if self.gone_since is not None:
                _stderr(f"DRP's socket {self.path} is reachable again")
            self.gone_since = None
            return False
        if state == UNKNOWN:
            kind = detail.split(":", 1)[0]
            if kind not in self._reported:
                self._reported.add(kind)
                _stderr(f"cannot probe DRP's socket {self.path} ({detail}); this is not "
                        "counted as DRP being gone")
            return False
        if self.gone_since is None:
            self.gone_since = now
            _stderr(f"DRP's socket {self.path} is unreachable ({detail}); exiting if it "
                    f"stays so for {self.grace:g}s")
            return False
        if now - self.gone_since >= self.grace:
            _stderr("DRP is gone: stopping")
            return True
        return False


def _stderr(message: str) -> None:
    try:
        print(f"drp-plugin: {message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass
