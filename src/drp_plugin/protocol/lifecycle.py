"""The stop of a ``listen`` process: one drain, joined by every stop request.

``/stop`` (any number of them), SIGTERM, SIGINT and the DRP watchdog all call
:meth:`Lifecycle.request_stop`; the first starts the drain, the others join it.
The drain, bounded by ``stop_timeout`` as a whole:

1. refuse new actions (503 ``plugin is stopping``);
2. run the provider's stop work (its stop handler, closing the event stream);
3. wait for the actions in flight to finish; those still running when the time
   is up are cancelled and answered 503 ``... abandoned``.

:attr:`Lifecycle.finished` is set once the drain is over and every ``/stop``
that joined it had its 200 written (bounded by ``reply_wait``): the process may
then close its server and exit.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

log = logging.getLogger("drp_plugin.runtime")


def _stderr(message: str) -> None:
    try:
        print(f"drp-plugin: {message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


async def bounded(awaitable: Awaitable[Any], seconds: float, what: str) -> bool:
    """Await ``awaitable`` for at most ``seconds``; False (and a line on stderr) if cut.

    Every await on the shutdown path goes through here, so a stop always ends.
    Errors are reported on stderr, never raised: a failing step must not stop the
    steps after it.
    """
    try:
        await asyncio.wait_for(awaitable, max(seconds, 0.0))
        return True
    except asyncio.TimeoutError:
        _stderr(f"{what} did not finish within {seconds:g}s: going on without it")
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        _stderr(f"{what} failed: {type(exc).__name__}: {exc}")
    return False


class Lifecycle:
    """Stop state, in-flight action accounting and the one drain.

    ``stop_work`` is the provider's part of the drain (stop handler, event stream);
    ``stop_timeout`` bounds the whole drain, ``reply_wait`` how long the process
    waits for the ``/stop`` replies to be written once the drain is over.
    """

    def __init__(self, stop_work: Callable[[], Awaitable[None]], *, stop_timeout: float = 10.0,
                 reply_wait: float = 2.0) -> None:
        self.stop_work = stop_work
        self.stop_timeout = stop_timeout
        self.reply_wait = reply_wait
        #: True once a stop was requested: new actions are refused.
        self.stopping = False
        #: True once in-flight actions were given up on (they answer 503).
        self.abandoning = False
        #: Why the stop was requested (first request wins), for the log.
        self.reason = ""
        #: Set when the drain is over and the ``/stop`` replies were written.
        self.finished = asyncio.Event()
        self._actions: set[asyncio.Task[Any]] = set()
        self._untracked = 0  # actions run outside a task (never in practice)
        self._idle = asyncio.Event()
        self._idle.set()
        self._replies = 0
        self._replies_done = asyncio.Event()
        self._replies_done.set()
        self._drain: asyncio.Task[None] | None = None

    # -- actions ---------------------------------------------------------------------------
    @property
    def in_flight(self) -> int:
        """How many actions are running."""
        return len(self._actions) + self._untracked

    def action_started(self) -> asyncio.Task[Any] | None:
        """Count the action run by the current task; pass the result to :meth:`action_finished`."""
        task = asyncio.current_task()
        if task is None or task in self._actions:
            self._untracked += 1
            task = None
        else:
            self._actions.add(task)
        self._idle.clear()
        return task

    def action_finished(self, token: asyncio.Task[Any] | None) -> None:
        """The action counted by :meth:`action_started` is over (answered or not)."""
        if token is None:
            self._untracked -= 1
        else:
            self._actions.discard(token)
        if self.in_flight == 0:
            self._idle.set()

    def abandoned(self) -> bool:
        """Whether a ``CancelledError`` in an action comes from the drain giving up on it.

        When it does, the cancellation is consumed here, so the connection can still
        write the 503.
        """
        if not self.abandoning:
            return False
        task = asyncio.current_task()
        uncancel = getattr(task, "uncancel", None)  # Python >= 3.11
        if uncancel is not None:
            uncancel()
        return True

    # -- stop ------------------------------------------------------------------------------
    def request_stop(self, reason: str) -> asyncio.Task[None]:
        """Start the drain, or join the one in progress; returns its task."""
        if self._drain is None:
            self.stopping = True
            self.reason = reason
            log.info("stopping: %s", reason)
            self._drain = asyncio.get_running_loop().create_task(self._run_drain(),
                                                                 name="drp-plugin-drain")
        return self._drain

    async def join_stop(self, reason: str) -> None:
        """What ``/stop`` awaits: the drain, then the caller writes its 200.

        The caller must call :meth:`reply_written` once its reply is on the wire
        (``after_response``); a reply that never gets written delays the exit by
        ``reply_wait`` at most.
        """
        self._replies += 1
        self._replies_done.clear()
        drain = self.request_stop(reason)
        try:
            await asyncio.shield(drain)
        except BaseException:
            self.reply_written()
            raise

    def reply_written(self) -> None:
        """One ``/stop`` reply was written (or will never be)."""
        self._replies = max(self._replies - 1, 0)
        if self._replies == 0:
            self._replies_done.set()

    async def _run_drain(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.stop_timeout
        try:
            await bounded(self.stop_work(), self.stop_timeout, "the provider's stop")
            if self.in_flight:
                left = max(deadline - loop.time(), 0.0)
                try:
                    await asyncio.wait_for(self._idle.wait(), left)
                except asyncio.TimeoutError:
                    self._abandon()
        finally:
            # Let the /stop replies and 503s that joined be written; then the process may go.
            loop.create_task(self._finish())

    def _abandon(self) -> None:
        count = self.in_flight
        log.warning("stopping with %d action(s) still running: answering them 503", count)
        _stderr(f"{count} action(s) still running after the {self.stop_timeout:g}s stop timeout: "
                "answered 503")
        self.abandoning = True
        for task in list(self._actions):
            task.cancel()

    async def _finish(self) -> None:
        try:
            await asyncio.wait_for(self._replies_done.wait(), self.reply_wait)
        except asyncio.TimeoutError:
            pass
        if self.abandoning and self.in_flight:
            try:
                await asyncio.wait_for(self._idle.wait(), self.reply_wait)
            except asyncio.TimeoutError:
                pass
        self.finished.set()
