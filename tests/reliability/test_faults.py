"""Faults: stop and SIGTERM under load, log floods, per-machine ordering under concurrency."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from drp_plugin.testing import LogSink, PluginHost
from tests.helpers import KITCHEN, run_args
from tests.reliability.helpers import until_started

MACHINE = {"Uuid": "0b5f3e0e-0000-4000-8000-000000000001"}


@pytest.fixture
async def host(clean_env: dict[str, str]) -> AsyncIterator[PluginHost]:
    # --debug: each action logs "Action: <command>" when it starts, so a test can wait
    # until its actions are in flight instead of guessing how long that takes.
    h = PluginHost([*run_args(KITCHEN), "--debug"],
                   env={**clean_env, "DRP_PLUGIN_DRP_GONE_GRACE": "600"})
    await h.start()
    assert (await h.config({})).status == 200
    yield h
    await h.aclose()


def client(host: PluginHost, connections: int = 100) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.AsyncHTTPTransport(uds=host.to_path,
                                           limits=httpx.Limits(max_connections=connections)),
        base_url="http://unix", timeout=60)


async def fire(c: httpx.AsyncClient, body: dict[str, Any]) -> tuple[int, Any]:
    try:
        r = await c.post("/api-plugin/v4/action", json=body)
    except httpx.TransportError as exc:
        return 0, str(exc)
    return r.status_code, r.json()


@pytest.mark.slow
@pytest.mark.parametrize("how", ["stop", "sigterm"])
async def test_stop_during_100_in_flight_actions(host: PluginHost, how: str) -> None:
    async with client(host) as c:
        actions = [asyncio.create_task(fire(c, {"Command": "sleep_async", "Params": {"seconds": 0.5}}))
                   for _ in range(100)]
        await until_started(host, "sleep_async", 100)
        assert host.process is not None
        if how == "stop":
            stop = await host.stop()
            assert stop.status == 200 and stop.json()["Code"] == 200
        else:
            host.process.send_signal(signal.SIGTERM)
        results = await asyncio.gather(*actions)
    assert await host.wait() == 0
    assert not os.path.exists(host.to_path)
    # Each action either completed and was answered, or got a clear error.
    for status, body in results:
        assert (status, body) == (200, "slept") or (status == 503 and body["Messages"]), (status, body)
    # All 100 were in flight when the stop came, and 0.5 s is well within the stop timeout.
    assert sum(1 for status, _ in results if status == 200) == 100


@pytest.mark.slow
async def test_handler_flooding_logs_stays_bounded(clean_env: dict[str, str]) -> None:
    async with PluginHost(run_args(KITCHEN), env={**clean_env, "DRP_PLUGIN_DRP_GONE_GRACE": "600"},
                          sink=LogSink(delay=0.01)) as h:
        assert (await h.config({})).status == 200
        before = h.rss_kb()
        reply = await h.action("log", {"count": 100_000})
        assert reply.status == 200 and reply.json() == 100_000
        after = h.rss_kb()
        fast = await h.action("echo", {"kitchen/a": 1}, MACHINE)
        assert fast.status == 200
        assert after - before < 40_000, (before, after)  # the queue is bounded (10,000 lines)
        await h.stop()
        assert await h.wait() == 0
    assert b"not delivered" in h.stderr  # dropped lines are counted and reported once
    assert h.stderr.count(b"not delivered") == 1


@pytest.mark.slow
async def test_serial_actions_keep_per_machine_order(host: PluginHost) -> None:
    machines = [f"m-{n:02d}" for n in range(50)]
    per_machine = 20

    async with client(host, connections=200) as c:
        async def machine_stream(uuid: str) -> list[tuple[int, Any]]:
            tasks = []
            for seq in range(per_machine):
                body = {"Command": "ordered", "Model": {"Uuid": uuid},
                        "Params": {"seq": seq, "seconds": 0.005}}
                tasks.append(asyncio.create_task(fire(c, body)))
                await asyncio.sleep(0.004)  # send in order, without waiting for answers
            return list(await asyncio.gather(*tasks))

        results = await asyncio.gather(*(machine_stream(m) for m in machines))
        runs_reply = await c.post("/api-plugin/v4/action", json={"Command": "ordered_runs"})
    assert all(status == 200 for r in results for status, _ in r)
    runs = runs_reply.json()
    assert len(runs) == len(machines) * per_machine
    by_machine: dict[str, list[list[Any]]] = defaultdict(list)
    for run in runs:
        by_machine[run[0]].append(run)
    for uuid, machine_runs in by_machine.items():
        machine_runs.sort(key=lambda r: r[2])
        # one at a time: each run starts after the previous one ended
        for earlier, later in zip(machine_runs, machine_runs[1:], strict=False):
            assert later[2] >= earlier[3], uuid
        # in arrival order
        arrivals = [r[1] for r in machine_runs]
        assert arrivals == sorted(arrivals), (uuid, arrivals)
    json.dumps(runs)
