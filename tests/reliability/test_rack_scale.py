"""A rack's worth of actions at once (issue 21): a thread per running sync handler,
connections that send nothing never starve DRP's requests, and every limit answers
with a ``models.Error`` naming its setting.  Figures come from ``bench/``
(``--only concurrency``), never from timings here."""

from __future__ import annotations

import asyncio
import selectors
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from drp_plugin.testing import PluginHost
from tests.helpers import KITCHEN, ROOT, run_args

SLOW_LIFESPAN = ROOT / "tests" / "providers" / "slow_lifespan.py"


async def _started(env: dict[str, str], **settings: str) -> PluginHost:
    host = PluginHost([*run_args(KITCHEN), "--debug"],
                      env={**env, "DRP_PLUGIN_DRP_GONE_GRACE": "600", **settings})
    await host.start()
    assert (await host.config({})).status == 200
    return host


@pytest.fixture
async def host(clean_env: dict[str, str]) -> AsyncIterator[PluginHost]:
    h = await _started(clean_env)
    yield h
    await h.aclose()


def _client(host: PluginHost, connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.AsyncHTTPTransport(uds=host.to_path,
                                           limits=httpx.Limits(max_connections=connections)),
        base_url="http://unix", timeout=60)


async def _action(c: httpx.AsyncClient, command: str, **params: Any) -> tuple[int, Any]:
    r = await c.post("/api-plugin/v4/action", json={"Command": command, "Params": params})
    return r.status_code, r.json()


def _count(host: PluginHost, message: str) -> int:
    return sum(1 for line in host.logs if line["Message"] == message)


async def _until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


@pytest.mark.slow
async def test_sync_handlers_get_a_thread_each(host: PluginHost) -> None:
    """40 sync actions that return only once all 40 run at once: asyncio's default
    executor (6 threads here) broke the barrier."""
    async with _client(host, 40) as c:
        replies = await asyncio.gather(*(_action(c, "rendezvous", n=40, wait=30)
                                         for _ in range(40)))
    assert replies == [(200, 40)] * 40
    # every handler's log line reaches DRP (shipped after the replies)
    await _until(lambda: _count(host, "rendezvous of 40") == 40)


@pytest.mark.slow
async def test_past_the_thread_limit_an_action_is_refused_naming_the_setting(
        clean_env: dict[str, str]) -> None:
    host = await _started(clean_env, DRP_PLUGIN_SYNC_THREADS="2")
    try:
        async with _client(host, 3) as c:
            # Two wait at a barrier of three (each holding a thread) until it breaks
            # after 3 s; the third finds both threads taken.
            replies = await asyncio.gather(*(_action(c, "rendezvous", n=3, wait=3)
                                             for _ in range(3)))
            refused = [body for status, body in replies if status == 503]
            assert len(refused) == 1, replies
            assert "DRP_PLUGIN_SYNC_THREADS=2" in refused[0]["Messages"][0]
            assert refused[0]["Model"] == "plugin"
            # Async handlers take no thread: never refused by this limit.
            assert await _action(c, "sleep_async", seconds=0) == (200, "slept")
            # Once the threads are free, sync actions run again.
            assert await _action(c, "sleep_sync", seconds=0) == (200, "slept")
    finally:
        await host.aclose()


def _closed_by_peer(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


@pytest.mark.slow
async def test_silent_sockets_do_not_starve_drp(clean_env: dict[str, str]) -> None:
    """1,000 sockets that never send a byte, at a limit of 256 connections: DRP's action
    is answered meanwhile, and every silent socket is closed within the header timeout
    (on the 300 s idle timeout they held every slot, and the action waited unanswered)."""
    host = await _started(clean_env, DRP_PLUGIN_MAX_CONNECTIONS="256",
                          DRP_PLUGIN_HEADER_TIMEOUT="2")
    silent: list[socket.socket] = []
    try:
        for _ in range(1000):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(host.to_path)
            except BlockingIOError:  # the backlog is full: the dial waits, as Go's would not
                pass
            silent.append(s)
        async with _client(host, 1) as c:
            status, body = await asyncio.wait_for(_action(c, "sleep_async", seconds=0), 10)
        assert (status, body) == (200, "slept")
        deadline = time.monotonic() + 30
        open_ = {s.fileno(): s for s in silent}
        with selectors.DefaultSelector() as watch:  # descriptors past 1,024: not select()
            for s in silent:
                watch.register(s, selectors.EVENT_READ)
            while open_ and time.monotonic() < deadline:
                for key, _ in watch.select(0.5):
                    s = open_.get(key.fd)
                    if s is not None and _closed_by_peer(s):
                        watch.unregister(s)
                        del open_[key.fd]
                await asyncio.sleep(0)
        assert not open_, f"{len(open_)} of 1000 silent sockets still open"
        # The provider is still fine.
        async with _client(host, 1) as c:
            assert await _action(c, "sleep_async", seconds=0) == (200, "slept")
    finally:
        for s in silent:
            s.close()
        await host.aclose()


@pytest.mark.slow
async def test_at_the_connection_limit_idle_connections_go_first(
        clean_env: dict[str, str]) -> None:
    host = await _started(clean_env, DRP_PLUGIN_MAX_CONNECTIONS="4")
    try:
        # Four keep-alive connections, each idle after one request.
        idle = []
        for _ in range(4):
            c = _client(host, 1)
            assert await _action(c, "sleep_async", seconds=0) == (200, "slept")
            idle.append(c)
        async with _client(host, 1) as fresh:
            assert await _action(fresh, "sleep_async", seconds=0) == (200, "slept")
        # The longest-idle one was closed to make room; httpx opens a new one for it.
        for c in idle:
            assert await _action(c, "sleep_async", seconds=0) == (200, "slept")
            await c.aclose()
    finally:
        await host.aclose()


@pytest.mark.slow
async def test_past_the_connection_limit_a_request_is_answered_503(
        clean_env: dict[str, str]) -> None:
    host = await _started(clean_env, DRP_PLUGIN_MAX_CONNECTIONS="4")
    try:
        async with _client(host, 4) as busy, _client(host, 1) as extra:
            # Busy long enough that, even on a loaded machine (two test workers on two
            # cores), the extra request arrives while all four still hold their
            # connections: a slot freed meanwhile would rightly answer it 200.
            loop = asyncio.get_running_loop()
            began = loop.time()
            running = [asyncio.create_task(_action(busy, "sleep_async", seconds=8))
                       for _ in range(4)]
            await _until(lambda: _count(host, "Action: sleep_async") >= 4)
            sent = loop.time() - began
            status, body = await _action(extra, "sleep_async", seconds=0)
            assert (status, sent < 8) == (503, True), (status, body, f"sent after {sent:.1f} s",
                                                       [r.done() for r in running])
            assert "DRP_PLUGIN_MAX_CONNECTIONS" in body["Messages"][0]
            assert [await r for r in running] == [(200, "slept")] * 4
    finally:
        await host.aclose()


@pytest.mark.slow
async def test_concurrent_configs_share_one_lifespan(clean_env: dict[str, str],
                                                     tmp_path: Path) -> None:
    """Three configs at once with a lifespan that takes 1 s to start, then /stop: the
    lifespan is entered once and left once (it was entered three times, left once)."""
    log = tmp_path / "lifespan.log"
    host = PluginHost(run_args(SLOW_LIFESPAN), env={
        **clean_env, "SLOW_LIFESPAN_LOG": str(log), "SLOW_LIFESPAN_SECONDS": "1"})
    await host.start()
    try:
        replies = await asyncio.gather(*(host.config({}) for _ in range(3)))
        assert [r.status for r in replies] == [200, 200, 200]
        reply = await host.action("state")
        assert (reply.status, reply.json()) == (200, 1)
        assert (await host.stop()).status == 200
        assert await host.wait() == 0
    finally:
        await host.aclose()
    assert log.read_text().splitlines() == ["enter 1", "exit 1"]


@pytest.mark.slow
async def test_a_stop_during_the_lifespan_start_leaves_it(clean_env: dict[str, str],
                                                          tmp_path: Path) -> None:
    log = tmp_path / "lifespan.log"
    host = PluginHost(run_args(SLOW_LIFESPAN), env={
        **clean_env, "SLOW_LIFESPAN_LOG": str(log), "SLOW_LIFESPAN_SECONDS": "1"})
    await host.start()
    try:
        config = asyncio.create_task(host.config({}))
        while not log.exists():
            await asyncio.sleep(0.01)
        assert (await host.stop()).status == 200
        await config
        assert await host.wait() == 0
    finally:
        await host.aclose()
    assert log.read_text().splitlines() == ["enter 1", "exit 1"]
