"""The threads ``def`` handlers run in: one per running handler, as Go runs a goroutine.

asyncio's default executor has ``min(32, cpus + 4)`` threads (6 on two cores), so
the seventh slow sync action waited for the first.  :class:`HandlerThreads` starts
a thread when a call finds no idle one, keeps a finished thread waiting
``idle_timeout`` seconds for the next call, then lets it end: a burst of 1,000
slow actions runs on 1,000 threads at once, and a quiet provider holds none.

``listen`` installs it as its loop's executor, so ``run_in_executor(None, ...)``
and ``asyncio.to_thread`` in handlers use it too.  Calls made while DRP waits for
an answer (actions and ``/publish``, marked with :func:`bounded_calls`) are
limited to ``limit`` at once (``DRP_PLUGIN_SYNC_THREADS``): one more raises
:class:`ThreadLimitReached`, which the router answers 503 naming the setting,
never a silent wait.  Config, stop, the lifespan and event handlers are never
refused.  Why a bound at all: CPython serialises threads on the GIL, and past a
few thousand threads that wake at once the hand-offs alone take seconds
(10,000 threads each sleeping 1 s took 291 s to finish on two cores; 2,000 took
1.3 s; 1,000 took 1.1 s).
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .settings import DEFAULT_SYNC_IDLE, DEFAULT_SYNC_THREADS

_bounded: contextvars.ContextVar[bool] = contextvars.ContextVar("drp_plugin_bounded_call",
                                                                default=False)

if TYPE_CHECKING:  # annotations only: the module runs on CPython 3.9
    _Work = tuple[concurrent.futures.Future[Any], Callable[..., Any], tuple[Any, ...],
                  dict[str, Any], bool]


class ThreadLimitReached(RuntimeError):
    """``limit`` sync handlers already run for DRP's requests; this one was not started."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"all {limit} handler threads are busy (DRP_PLUGIN_SYNC_THREADS={limit}); "
            "retry later, raise the setting, or make the handler async")


def bounded_calls() -> contextvars.Token[bool]:
    """Mark the current task's executor calls as made for a request DRP waits on
    (:meth:`HandlerThreads.submit` then counts them against ``limit``); undo with
    ``reset_bounded(token)``."""
    return _bounded.set(True)


def reset_bounded(token: contextvars.Token[bool]) -> None:
    """Undo :func:`bounded_calls`."""
    _bounded.reset(token)


class HandlerThreads(concurrent.futures.ThreadPoolExecutor):
    """An executor that grows a thread per concurrent call and shrinks when idle.

    A ``ThreadPoolExecutor`` only by type (asyncio's ``set_default_executor`` takes
    nothing else): :meth:`submit` and :meth:`shutdown` are its own."""

    def __init__(self, limit: int = DEFAULT_SYNC_THREADS, idle_timeout: float = DEFAULT_SYNC_IDLE,
                 name: str = "drp-plugin-handler") -> None:
        if limit <= 0 or idle_timeout <= 0:
            raise ValueError("limit and idle_timeout must be positive")
        super().__init__(max_workers=limit, thread_name_prefix=name)  # starts no thread
        self.limit = limit
        self.idle_timeout = idle_timeout
        self.name = name
        self._mutex = threading.Lock()
        self._wake = threading.Condition(self._mutex)        # idle workers wait here
        self._spawn_wake = threading.Condition(self._mutex)  # the spawner waits here
        self._calls: deque[_Work] = deque()
        self._idle = 0          # workers waiting for a call
        self._pending = 0       # workers asked for and not yet running
        self._to_start = 0      # of those, not yet handed to the spawner
        self._alive = 0         # workers alive or asked for
        self._in_requests = 0   # bounded calls queued or running
        self._count = 0
        self._stopped = False
        self._spawner: threading.Thread | None = None
        #: Most threads alive at once (for the bench and tests).
        self.peak_threads = 0

    @property
    def threads(self) -> int:
        """Handler threads alive now (running a call, waiting for one, or starting)."""
        return self._alive

    @property
    def bounded_running(self) -> int:
        """Calls of DRP's requests queued or running."""
        return self._in_requests

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
               ) -> concurrent.futures.Future[Any]:
        """Queue ``fn(*args, **kwargs)`` for an idle worker, or for a new one.

        A new worker is started by the spawner thread, never here: ``Thread.start``
        waits for the new thread to run, and on the event loop's thread a burst of
        1,000 starts held every other request up for a fraction of a second."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        bounded = _bounded.get()
        with self._mutex:
            if self._stopped:
                raise RuntimeError("cannot schedule new calls after shutdown")
            if bounded:
                if self._in_requests >= self.limit:
                    raise ThreadLimitReached(self.limit)
                self._in_requests += 1
            self._calls.append((future, fn, args, kwargs, bounded))
            if self._idle + self._pending >= len(self._calls):
                self._wake.notify()
                return future
            # More calls queued than workers to take them: one more worker.
            self._pending += 1
            self._to_start += 1
            self._alive += 1
            self.peak_threads = max(self.peak_threads, self._alive)
            if self._spawner is None:
                self._spawner = threading.Thread(target=self._spawn, daemon=True,
                                                 name=f"{self.name}-spawner")
                self._spawner.start()
            else:
                self._spawn_wake.notify()
        return future

    def _spawn(self) -> None:
        """Start the workers :meth:`submit` asked for (a daemon thread of its own)."""
        while True:
            with self._mutex:
                while not self._to_start:
                    if self._stopped:
                        self._spawner = None
                        return
                    self._spawn_wake.wait(1.0)
                n, self._to_start = self._to_start, 0
            for _ in range(n):
                with self._mutex:
                    self._count += 1
                    number = self._count
                try:
                    # Not a daemon, as ThreadPoolExecutor's are not: threads a handler
                    # starts inherit that, and interpreter shutdown lets them finish
                    # (the ExitGuard bounds how long); idle workers end at shutdown().
                    threading.Thread(target=self._worker, name=f"{self.name}-{number}",
                                     daemon=False).start()
                except RuntimeError as exc:  # no thread could be started
                    self._no_thread(exc)

    def _no_thread(self, exc: BaseException) -> None:
        """A worker could not be started: fail the calls no worker will take."""
        with self._mutex:
            self._pending -= 1
            self._alive -= 1
            failed = []
            while len(self._calls) > self._idle + self._pending:
                failed.append(self._calls.pop())
        for future, *_rest, bounded in failed:
            if bounded:
                with self._mutex:
                    self._in_requests -= 1
            if future.set_running_or_notify_cancel():
                future.set_exception(RuntimeError(f"no handler thread could be started: {exc}"))

    def _worker(self) -> None:
        with self._mutex:
            self._pending -= 1
        bounded = False
        while True:
            work = self._take(bounded)
            if work is None:
                return
            future, fn, args, kwargs, bounded = work
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del work, future, fn, args, kwargs  # nothing of the call outlives it

    def _take(self, finished_bounded: bool) -> _Work | None:
        """The next call for this worker, or None when it should end (idle for
        ``idle_timeout``, or shut down with nothing queued)."""
        with self._mutex:
            if finished_bounded:
                self._in_requests -= 1
            while not self._calls:
                if self._stopped:
                    self._alive -= 1
                    return None
                self._idle += 1
                called = self._wake.wait(self.idle_timeout)
                self._idle -= 1
                if not called and not self._calls:
                    self._alive -= 1
                    return None
            return self._calls.popleft()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new calls and let idle workers end at once; running calls are never
        joined here (``listen``'s ExitGuard bounds what interpreter shutdown waits for)."""
        with self._mutex:
            self._stopped = True
            cancelled = list(self._calls) if cancel_futures else []
            if cancel_futures:
                self._calls.clear()
            self._wake.notify_all()
            self._spawn_wake.notify_all()
        for future, *_rest in cancelled:
            future.cancel()
