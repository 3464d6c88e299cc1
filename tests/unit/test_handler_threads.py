"""HandlerThreads: a thread per concurrent call, idle threads end, the request bound."""

from __future__ import annotations

import threading
import time

import pytest

from drp_plugin.protocol.threads import (
    HandlerThreads,
    ThreadLimitReached,
    bounded_calls,
    reset_bounded,
)


def _until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_every_concurrent_call_gets_a_thread_and_idle_ones_end() -> None:
    pool = HandlerThreads(limit=4, idle_timeout=0.2)
    barrier = threading.Barrier(50)
    try:
        futures = [pool.submit(barrier.wait, 10) for _ in range(50)]  # unbounded calls
        assert sorted(f.result(20) for f in futures) == list(range(50))
        assert pool.peak_threads == 50
        # A finished worker takes the next call instead of a new thread starting.
        assert pool.submit(lambda: 7).result(5) == 7
        _until(lambda: pool.threads == 0)  # each ended after 0.2 s idle
        assert pool.submit(lambda: 8).result(5) == 8  # and new ones start again
    finally:
        pool.shutdown(wait=False)


def test_errors_reach_the_caller() -> None:
    pool = HandlerThreads()
    try:
        with pytest.raises(ZeroDivisionError):
            pool.submit(lambda: 1 / 0).result(5)
    finally:
        pool.shutdown(wait=False)


def test_bounded_calls_past_the_limit_are_refused() -> None:
    pool = HandlerThreads(limit=2, idle_timeout=5)
    release = threading.Event()
    token = bounded_calls()
    try:
        held = [pool.submit(release.wait, 10) for _ in range(2)]
        with pytest.raises(ThreadLimitReached, match="DRP_PLUGIN_SYNC_THREADS=2"):
            pool.submit(release.wait, 10)
        reset_bounded(token)
        token = None
        free = pool.submit(lambda: "not counted")  # config, stop, events: never refused
        assert free.result(5) == "not counted"
        release.set()
        assert [f.result(5) for f in held] == [True, True]
        token = bounded_calls()
        _until(lambda: pool.bounded_running == 0)
        assert pool.submit(lambda: "again").result(5) == "again"
    finally:
        if token is not None:
            reset_bounded(token)
        release.set()
        pool.shutdown(wait=False)


def test_shutdown_refuses_new_calls_and_cancels_queued_ones() -> None:
    pool = HandlerThreads()
    pool.shutdown(wait=False, cancel_futures=True)
    with pytest.raises(RuntimeError, match="shutdown"):
        pool.submit(lambda: None)
