"""Shutdown always finishes (issue 10 items 1-3): real provider processes, real unix sockets.

The host side is :class:`drp_plugin.testing.PluginHost`, which reads the provider's
stdout and stderr until end-of-file, as a host that waits on a child's pipes does
(Go's ``exec.Cmd.Wait`` with ``Stdout`` set to a writer).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from drp_plugin.testing import PluginHost
from tests.reliability.helpers import until_started

LINGERING = Path(__file__).with_name("lingering.py")
OK = {"Model": "", "Key": "", "Type": "", "Messages": None, "Code": 200}

HostFactory = Callable[..., Any]

#: Runs the rest of argv with lower soft and hard limits of open files (``ulimit -n``; the
#: provider raises its soft limit to the hard one at start, as Go does);
#: the limit survives ``exec``, like ``resource.setrlimit`` in a ``preexec_fn``.
WITH_NOFILE = ("import os, resource, sys; "
               "resource.setrlimit(resource.RLIMIT_NOFILE, "
               "(int(sys.argv[1]), int(sys.argv[1]))); "
               "os.execv(sys.executable, [sys.executable] + sys.argv[2:])")


@pytest.fixture
async def make_host(clean_env: dict[str, str]) -> AsyncIterator[HostFactory]:
    hosts: list[PluginHost] = []

    async def make(env: dict[str, str] | None = None, nofile: int | None = None) -> PluginHost:
        # --debug: each action logs "Action: <command>" as it starts (see until_started).
        argv = [sys.executable, str(LINGERING), "--debug"]
        if nofile is not None:
            argv = [sys.executable, "-c", WITH_NOFILE, str(nofile), *argv[1:]]
        host = PluginHost(argv, env={**clean_env, "DRP_PLUGIN_DRP_GONE_GRACE": "600",
                                     **(env or {})})
        hosts.append(host)
        await host.start()
        assert (await host.config({})).status == 200
        return host

    yield make
    for host in hosts:
        await host.aclose()


def client(host: PluginHost, connections: int = 40) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.AsyncHTTPTransport(uds=host.to_path,
                                           limits=httpx.Limits(max_connections=connections,
                                                               keepalive_expiry=None)),
        base_url="http://unix", timeout=120)


async def post(c: httpx.AsyncClient, path: str, body: Any) -> tuple[int, Any]:
    """POST and decode; a dropped connection is status 0 (what the old code did)."""
    try:
        r = await c.post(path, content=json.dumps(body).encode(),
                         headers={"Content-Type": "application/json"})
    except httpx.TransportError as exc:
        return 0, f"{type(exc).__name__}: {exc}"
    return r.status_code, r.json()


async def action(c: httpx.AsyncClient, command: str, **params: Any) -> tuple[int, Any]:
    return await post(c, "/api-plugin/v4/action", {"Command": command, "Params": params})


async def stop(c: httpx.AsyncClient) -> tuple[int, Any]:
    return await post(c, "/api-plugin/v4/stop", None)


@pytest.mark.slow
@pytest.mark.parametrize("first", ["stop", "sigterm"])
async def test_every_stop_joins_the_one_drain(make_host: HostFactory, first: str) -> None:
    """20 slow actions in flight, then two stops (``/stop`` twice, or SIGTERM then ``/stop``):
    each action answered (or a clear 503), every ``/stop`` answered 200, then exit 0.

    Before: the second stop answered at once and the process exited, dropping the 20
    actions and the first ``/stop`` without a reply.
    """
    host = await make_host()
    assert host.process is not None
    async with client(host) as c:
        actions = [asyncio.create_task(action(c, "sleep_async", seconds=3)) for _ in range(20)]
        await until_started(host, "sleep_async", 20)
        stops = []
        if first == "sigterm":
            host.process.send_signal(signal.SIGTERM)
        else:
            stops.append(asyncio.create_task(stop(c)))
            await asyncio.sleep(0.2)
        stops.append(asyncio.create_task(stop(c)))
        results = await asyncio.gather(*actions)
        stop_results = await asyncio.gather(*stops)
    assert await host.wait(timeout=60) == 0
    assert not os.path.exists(host.to_path)
    assert stop_results == [(200, OK)] * len(stops)
    # All 20 were in flight when the stops came: the drain lets each finish.
    assert results == [(200, "slept")] * 20


@pytest.mark.slow
async def test_actions_outliving_the_stop_timeout_are_answered_503(make_host: HostFactory) -> None:
    """What is still running when ``DRP_PLUGIN_STOP_TIMEOUT`` is up gets a 503 naming it,
    async and sync handlers alike; then the process exits 0.  Before: no reply at all."""
    host = await make_host({"DRP_PLUGIN_STOP_TIMEOUT": "1", "DRP_PLUGIN_EXIT_GRACE": "1"})
    async with client(host) as c:
        actions = [asyncio.create_task(action(c, command, seconds=3600))
                   for command in ["sleep_async"] * 4 + ["sleep_sync"] * 2]
        await until_started(host, "sleep_async", 4)
        await until_started(host, "sleep_sync", 2)
        stopped = await stop(c)
        results = await asyncio.gather(*actions)
    assert stopped == (200, OK)
    assert await host.wait(timeout=60) == 0
    for (status, body), command in zip(results, ["sleep_async"] * 4 + ["sleep_sync"] * 2,
                                       strict=True):
        assert status == 503, (status, body)
        assert body["Messages"] == [f"plugin stopped: action {command} was still running after "
                                    "the 1s stop timeout"]


@pytest.mark.slow
@pytest.mark.parametrize(("command", "env"), [
    ("sleep_sync", {"DRP_PLUGIN_ACTION_TIMEOUT": "0.5"}),  # (a) past its timeout, holds a thread
    ("thread", {}),                                         # (b) a non-daemon thread forever
])
async def test_exit_is_bounded_whatever_handlers_left(make_host: HostFactory, command: str,
                                                      env: dict[str, str]) -> None:
    """After the drain the process exits within ``DRP_PLUGIN_EXIT_GRACE``, whatever threads
    handlers left.  Before: interpreter shutdown joined them, forever (2 of 2 runs)."""
    host = await make_host({**env, "DRP_PLUGIN_EXIT_GRACE": "1"})
    async with client(host) as c:
        status, body = await action(c, command, seconds=3600)
        assert status == (504 if command == "sleep_sync" else 200), body
        assert await stop(c) == (200, OK)
    assert await host.wait(timeout=60) == 0
    assert b"thread(s) still run" in host.stderr


@pytest.mark.slow
async def test_a_child_holding_stdout_does_not_hold_the_host(make_host: HostFactory) -> None:
    """A child a handler started inherits stdout/stderr and outlives ``/stop``; the host,
    reading the provider's pipes to their end, still sees the end when the provider exits.
    The provider's own prints still reach its stdout."""
    host = await make_host()
    async with client(host) as c:
        assert await action(c, "print") == (200, "said")
        status, pid = await action(c, "child")
        assert status == 200
        try:
            assert await stop(c) == (200, OK)
            assert await host.wait(timeout=60) == 0  # waits for EOF on stdout and stderr
            os.kill(pid, 0)  # the child is still alive: it is not what the host waited for
        finally:
            os.kill(pid, signal.SIGKILL)
    assert "said on stdout" in host.stdout_lines


@pytest.mark.slow
async def test_file_descriptors_exhausted_is_not_drp_gone(make_host: HostFactory) -> None:
    """Provider at ``ulimit -n 64`` and 150 idle connections: probing DRP's socket fails with
    EMFILE, which is not DRP being gone (the grace here is 1 s); the provider stays up,
    answers on its open connection, and ``/stop`` still completes with exit 0.

    Before: the watchdog read EMFILE as "DRP is gone" and stopped the provider.
    """
    host = await make_host({"DRP_PLUGIN_DRP_GONE_GRACE": "1", "DRP_PLUGIN_DRP_PROBE": "0.2"},
                           nofile=64)
    idle: list[socket.socket] = []
    async with client(host, connections=1) as c:
        assert await action(c, "sleep_async", seconds=0) == (200, "slept")  # opens our connection
        try:
            for _ in range(150):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.setblocking(False)
                try:
                    sock.connect(host.to_path)
                except BlockingIOError:
                    pass  # the backlog is full: the connection waits, as a real one would
                idle.append(sock)
            await asyncio.sleep(3.0)  # three times the grace, fifteen probes
            assert host.process is not None and host.process.returncode is None, host.stderr
            assert await action(c, "sleep_async", seconds=0) == (200, "slept")
            assert b"DRP is gone" not in host.stderr
            assert b"not counted as DRP being gone" in host.stderr
            assert await stop(c) == (200, OK)
        finally:
            for sock in idle:
                sock.close()
    assert await host.wait(timeout=60) == 0
