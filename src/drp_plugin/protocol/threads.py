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
        self._wake = threading.Condition(self._mutex)
        self._calls: deque[_Work | None] = deque()
        self._waiting = 0      # threads waiting for work, minus work queued for them
        self._alive = 0   # threads alive
        self._in_requests = 0   # bounded calls running or queued
        self._count = 0
        self._stopped = False
        #: Most threads alive at once (for the bench and tests).
        self.peak_threads = 0

    @property
    def threads(self) -> int:
        """Threads alive now (running a call or waiting for one)."""
        return self._alive

    @property
    def bounded_running(self) -> int:
        """Calls of DRP's requests running or about to run."""
        return self._in_requests

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
               ) -> concurrent.futures.Future[Any]:
        """Run ``fn(*args, **kwargs)`` on an idle thread, or a new one."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        bounded = _bounded.get()
        with self._mutex:
            if self._stopped:
                raise RuntimeError("cannot schedule new calls after shutdown")
            if bounded:
                if self._in_requests >= self.limit:
                    raise ThreadLimitReached(self.limit)
                self._in_requests += 1
            work: _Work = (future, fn, args, kwargs, bounded)
            if self._waiting > 0:
                self._waiting -= 1
                self._calls.append(work)
                self._wake.notify()
                return future
            self._alive += 1
            self._count += 1
            self.peak_threads = max(self.peak_threads, self._alive)
            number = self._count
        try:
            # Not a daemon, as ThreadPoolExecutor's are not: threads a handler starts
            # inherit that, and interpreter shutdown lets them finish (the ExitGuard
            # bounds how long); idle threads end at shutdown().
            threading.Thread(target=self._worker, args=(work,), name=f"{self.name}-{number}",
                             daemon=False).start()
        except BaseException:
            with self._mutex:
                self._alive -= 1
                if bounded:
                    self._in_requests -= 1
            raise
        return future

    def _worker(self, work: _Work | None) -> None:
        while work is not None:
            future, fn, args, kwargs, bounded = work
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del future, fn, args, kwargs  # nothing of the call outlives it
            work = self._next(bounded)

    def _next(self, bounded: bool) -> _Work | None:
        """The next call for this thread, or None when it should end."""
        with self._mutex:
            if bounded:
                self._in_requests -= 1
            if self._stopped:
                self._alive -= 1
                return None
            self._waiting += 1
            # Waiting threads = _idle + calls queued; a timed-out thread that finds the
            # queue empty holds no reservation, so it may end.
            while not self._calls:
                if not self._wake.wait(self.idle_timeout) and not self._calls:
                    self._waiting -= 1
                    self._alive -= 1
                    return None
            work = self._calls.popleft()
            if work is None:
                self._alive -= 1
            return work

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new calls and let idle threads end at once; running calls are never
        joined here (``listen``'s ExitGuard bounds what interpreter shutdown waits for)."""
        with self._mutex:
            self._stopped = True
            if cancel_futures:
                while self._calls:
                    work = self._calls.popleft()
                    if work is not None:
                        work[0].cancel()
                        self._waiting += 1
            for _ in range(self._waiting):
                self._calls.append(None)
            self._waiting = 0
            self._wake.notify_all()
