"""``listen``: the parts of a running provider, put together, and how the process ends.

PROTOCOL.md sections 1 to 3.  The parts, each readable and testable alone:

- :mod:`.settings`: every ``DRP_PLUGIN_*`` variable, checked before ``READY!``;
- :mod:`.routing`: what DRP's calls do (``handle(request) -> (status, body)``);
- :mod:`.lifecycle`: the one drain that every ``/stop``, SIGTERM and the watchdog join;
- :mod:`.services`: names, API clients and back channel, as handlers' contexts see them;
- :mod:`.eventsbridge`: DRP's event stream into the event handlers;
- :mod:`.watchdog`: whether DRP's socket is gone (and not merely unprobeable).

:class:`Wiring` puts the socket-free parts together once (the in-process test
client uses it too); :class:`Runtime` adds the unix-socket HTTP server, the back
channel, the log shipper and the watchdog.
After the drain the process exits within ``exit_grace`` seconds whatever handlers
left behind: :class:`ExitGuard` ends it with ``os._exit`` when threads would hold
interpreter shutdown.  Processes handlers started inherit stdout and stderr and may
outlive the provider; :class:`~.stdio.StdioShield` gives them pipes of the
provider's own, so that a host reading the provider's output sees its end when
the provider exits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from .._provider_logger import set_sink
from .backchannel import BackChannel
from .eventsbridge import EventBridge, deliver_event
from .httpserver import UnixHTTPServer
from .lifecycle import Lifecycle, bounded
from .logship import LogShipper
from .routing import Router
from .services import Services
from .settings import ListenSettings
from .stdio import StdioShield
from .threads import HandlerThreads
from .watchdog import DrpWatchdog

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..api import AsyncClient, Client
    from ..models import Event
    from ..provider import BaseProvider
    from .services import BackChannelLike

__all__ = ["ExitGuard", "Runtime", "Wiring", "run"]

log = logging.getLogger("drp_plugin.runtime")


class ExitGuard:
    """Ends the process ``grace`` seconds after :meth:`arm`, if it has not ended by itself.

    Interpreter shutdown joins every non-daemon thread and every executor worker
    with no bound: a sync handler still running past its action timeout, or a
    thread a handler started, would keep the process alive after ``/stop``.  The
    guard is a daemon thread: it flushes stdout and stderr (bounded too: a full
    pipe must not hold it) and calls ``os._exit(code)``.
    """

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None

    def arm(self, grace: float, code: int = 0) -> None:
        """Start counting; a second call is ignored."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._expire, args=(grace, code),
                                        name="drp-plugin-exit-guard", daemon=True)
        self._thread.start()

    @staticmethod
    def _expire(grace: float, code: int) -> None:
        time.sleep(grace)
        left = [t.name for t in threading.enumerate()
                if t is not threading.current_thread() and t is not threading.main_thread()
                and not t.daemon]
        message = (f"drp-plugin: exiting {grace:g}s after the drain although "
                   f"{len(left)} thread(s) still run: {', '.join(left[:10]) or '-'}\n")
        flusher = threading.Thread(target=_flush, args=(message,), daemon=True)
        flusher.start()
        flusher.join(0.5)
        os._exit(code)


def _flush(message: str) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is sys.stderr:
                stream.write(message)
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass


class Wiring:
    """The parts of a running provider that know no socket, put together once.

    :class:`~.services.Services` (names, API clients, the back channel), the
    :class:`~.eventsbridge.EventBridge`, the one drain (:class:`~.lifecycle.Lifecycle`,
    whose stop work is the provider's stop handler, then the event stream) and the
    :class:`~.routing.Router`.  :class:`Runtime` puts the router behind the unix-socket
    server with a :class:`~.backchannel.BackChannel`; the in-process test client calls
    :meth:`Router.handle <.routing.Router.handle>` itself with a back channel that
    records, ``api``/``sync_api`` factories, and without an event
    stream (``stream_events=False``: it delivers events with :meth:`deliver`).

    Build it on the loop that serves the provider.
    """

    def __init__(
        self,
        provider: BaseProvider,
        settings: ListenSettings,
        backchannel: BackChannelLike,
        *,
        api: Callable[[], AsyncClient] | None = None,
        sync_api: Callable[[], Client] | None = None,
        stream_events: bool = True,
    ) -> None:
        self.provider = provider
        self.settings = settings
        self.services = Services(asyncio.get_running_loop(), backchannel, async_factory=api,
                                 sync_factory=sync_api)
        self.events = EventBridge(provider, self.services, settings)
        self.lifecycle = Lifecycle(self._stop_work, stop_timeout=settings.stop_timeout)
        self.router = Router(provider, self.services, self.lifecycle, settings,
                             self.events if stream_events else None)

    async def _stop_work(self) -> None:
        """The provider's part of the drain: its stop handler, then the event stream."""
        try:
            await self.provider.run_stop(self.services)
        except Exception as exc:
            log.error("stop handler failed: %s", exc)
        await self.events.close()

    async def deliver(self, event: Event) -> None:
        """Run the provider's event handlers for one event (as the stream does)."""
        await deliver_event(self.provider, self.services, event)


class Runtime:
    """One ``listen`` process: serves DRP's calls and runs the provider's handlers."""

    def __init__(
        self,
        provider: BaseProvider,
        to_path: str,
        from_path: str,
        *,
        debug: bool = False,
        settings: ListenSettings | None = None,
        exit_guard: ExitGuard | None = None,
    ) -> None:
        self.provider = provider
        self.to_path = to_path
        self.from_path = from_path
        self.debug = debug
        self.settings = settings if settings is not None else ListenSettings.from_env(provider=provider)
        self.exit_guard = exit_guard
        self.loop = asyncio.get_running_loop()
        self.backchannel = BackChannel(from_path)
        self.wiring = Wiring(provider, self.settings, self.backchannel)
        self.services = self.wiring.services
        self.events = self.wiring.events
        self.lifecycle = self.wiring.lifecycle
        self.router = self.wiring.router
        self.shipper = LogShipper(provider.name, from_path, self.loop,
                                  max_queue_bytes=self.settings.log_queue_bytes,
                                  max_line=self.settings.log_line_bytes)
        self.server = UnixHTTPServer(to_path, self.router.handle, limits=self.settings.limits())
        self.watchdog = DrpWatchdog(from_path, self._drp_gone, grace=self.settings.drp_gone_grace,
                                    interval=self.settings.drp_probe_interval)

    async def serve(self) -> int:
        """Serve until a stop, drain, close; returns the exit code."""
        root = logging.getLogger()
        root.setLevel(logging.DEBUG if self.debug else logging.INFO)
        root.addHandler(self.shipper)
        set_sink(self.shipper)
        # httpx announces every request at INFO: that is noise in DRP's log.
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self.shipper.start()
        await self.server.start()
        try:
            await self.backchannel.client.connect()
        except (OSError, asyncio.TimeoutError) as exc:
            print(f"drp-plugin: from-plugin socket {self.from_path} is not reachable yet: {exc}",
                  file=sys.stderr, flush=True)
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, self._on_signal, sig)
        sys.stdout.write("READY!\n")
        sys.stdout.flush()
        watchdog = self.loop.create_task(self.watchdog.run(), name="drp-plugin-watchdog")
        await self.lifecycle.finished.wait()
        if self.exit_guard is not None:
            self.exit_guard.arm(self.settings.exit_grace)
        watchdog.cancel()
        # A request routed meanwhile (a late /stop) is answered at once now: let its
        # reply be written before the connections close.
        await bounded(self.server.wait_idle(self.lifecycle.reply_wait), self.lifecycle.reply_wait + 1.0,
                      "answering the last requests")
        await self._close()
        return 0

    def _on_signal(self, sig: int) -> None:
        self.lifecycle.request_stop(f"{signal.Signals(sig).name} received")

    def _drp_gone(self) -> None:
        self.lifecycle.request_stop("DRP is gone")

    async def _close(self) -> None:
        """Close everything, each step bounded: a stop always ends."""
        log.info("STOPPING")
        s = self.settings
        await bounded(self.server.close(), 1.0, "closing the to-plugin socket")
        # aclose waits for the queue itself; the extra second bounds its own teardown.
        await bounded(self.shipper.aclose(timeout=s.log_flush_timeout), s.log_flush_timeout + 1.0,
                      "flushing the log to DRP")
        set_sink(None)
        logging.getLogger().removeHandler(self.shipper)
        await bounded(self.backchannel.close(), 1.0, "closing the back channel")
        await bounded(self.services.aclose(), 1.0, "closing the API clients")


async def _listen(provider: BaseProvider, to_path: str, from_path: str, debug: bool,
                  settings: ListenSettings | None, guard: ExitGuard) -> int:
    runtime = Runtime(provider, to_path, from_path, debug=debug, settings=settings,
                      exit_guard=guard)
    return await runtime.serve()


def run(provider: BaseProvider, to_path: str, from_path: str, *, debug: bool = False,
        settings: ListenSettings | None = None) -> int:
    """Serve until ``/stop``, SIGTERM or DRP gone; returns the exit code.

    Unlike ``asyncio.run`` this does not wait for the worker threads of sync
    handlers (one may be stuck past its timeout); the :class:`ExitGuard` armed at
    the end of the drain bounds what interpreter shutdown may still wait for.
    """
    if settings is None:
        settings = ListenSettings.from_env(provider=provider)
    guard = ExitGuard()
    shield = StdioShield()
    shield.install()
    raise_open_files_limit()
    # Before any thread starts (the stdio shield's is the first): see reserve_descriptors.
    reserve_descriptors(settings.max_connections + 1024)
    loop = new_event_loop(settings.loop)
    # A thread per running sync handler (never asyncio's six-thread default), and
    # closing does not wait for a handler's stuck thread.
    executor = HandlerThreads(settings.sync_threads, settings.sync_idle)
    loop.set_default_executor(executor)
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(
            _listen(provider, to_path, from_path, debug, settings, guard))
    finally:
        _close_loop(loop)
        executor.shutdown(wait=False, cancel_futures=True)
        shield.restore()


def raise_open_files_limit() -> None:
    """Raise the open-file soft limit to the hard limit, as Go's runtime does at start:
    each action DRP has in flight is a connection, and a rack's worth of them must not
    run into a soft limit of 1,024."""
    try:
        import resource
    except ImportError:  # not on Linux: nothing to raise
        return
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = 1 << 20 if hard == resource.RLIM_INFINITY else hard  # Linux's nr_open
        if soft != resource.RLIM_INFINITY and soft < target:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (OSError, ValueError):
        pass  # keep the soft limit; accept backs off if it runs out


def reserve_descriptors(count: int) -> None:
    """Grow the kernel's descriptor table to ``count`` entries (at most the open-file
    limit) now, while the process has one thread.

    Linux grows the table by doubling, and in a process with several threads each
    growth waits for an RCU grace period: a burst of 10,000 accepts hit eight of them,
    4-19 ms each, and the dials that came meanwhile found the listen backlog full.
    The table costs 8 bytes an entry (128 KiB for the default 16,384 connections)."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return
    if limit != resource.RLIM_INFINITY:
        count = min(count, limit)
    if count <= 1024:
        return
    try:
        os.fstat(count - 1)
        return  # that descriptor is open already (so the table is that large): keep it
    except OSError:
        pass
    try:
        spare = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.dup2(spare, count - 1, inheritable=False)
        os.close(count - 1)
    except OSError:
        pass  # the table grows as connections come, as before
    finally:
        os.close(spare)


def new_event_loop(kind: str = "auto") -> asyncio.AbstractEventLoop:
    """A new loop of ``kind`` (``DRP_PLUGIN_LOOP``): uvloop's for ``uvloop``, and for
    ``auto`` when uvloop is installed; asyncio's otherwise."""
    if kind != "asyncio":
        try:
            import uvloop
        except ImportError:
            if kind == "uvloop":
                raise
        else:
            loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
            return loop
    return asyncio.new_event_loop()


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left on ``loop`` (bounded), then close it without joining threads."""
    try:
        tasks: list[asyncio.Task[Any]] = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.wait(tasks, timeout=1.0))
        loop.run_until_complete(asyncio.wait_for(loop.shutdown_asyncgens(), 1.0))
    except (asyncio.TimeoutError, RuntimeError):
        pass
    finally:
        asyncio.set_event_loop(None)
        loop.close()
