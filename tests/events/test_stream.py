"""The event stream against the local DRP stand-in: order, backpressure, reconnection, wait_for."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from drp_plugin.api import AsyncClient
from drp_plugin.events import EventStream, wait_for
from drp_plugin.standin import StandIn


@pytest.fixture
async def drp() -> AsyncIterator[StandIn]:
    async with StandIn() as standin:
        yield standin


@pytest.fixture
async def api(drp: StandIn) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(drp.endpoint, drp.token) as client:
        yield client


@pytest.fixture
async def stream(api: AsyncClient) -> AsyncIterator[EventStream]:
    async with EventStream(api, backoff=0.01, max_backoff=0.05) as events:
        yield events


async def test_a_slow_subscriber_gets_every_event_in_order(api: AsyncClient, stream: EventStream) -> None:
    slow = await stream.subscribe("profiles.create.*", queue_size=2)
    everything = await stream.subscribe("profiles.*.*")
    names = [f"p{n:02d}" for n in range(40)]
    for name in names:
        await api.create("profiles", {"Name": name})
    await api.set_param("profiles", "p00", "a/b", 1)
    received = []
    for _ in names:
        event = await slow.get()
        received.append(event.key)
        assert slow.pending <= 2
        await asyncio.sleep(0.002)
    assert received == names
    assert [(await everything.get()).topic for _ in range(41)] == [
        *(f"profiles.create.{n}" for n in names), "profiles.save.p00",
    ]
    await asyncio.sleep(0.05)
    assert slow.pending == 0  # the save event matched only the other subscription


async def test_the_stream_survives_a_dropped_websocket(
    drp: StandIn, api: AsyncClient, stream: EventStream, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="drp_plugin.events")
    machines = await stream.subscribe("machines.create,delete.*")
    profiles = await stream.subscribe("profiles.*.*")
    first = await api.create("machines", {"Name": "before"})
    assert (await machines.get()).key == first["Uuid"]

    await drp.drop_websockets()
    async with asyncio.timeout(5):
        while stream.reconnects < 1:
            await asyncio.sleep(0.01)
        await stream.registered()
    second = await api.create("machines", {"Name": "after"})
    await api.create("profiles", {"Name": "after"})
    await api.delete("machines", second["Uuid"])
    # Each subscription is told first that events may be missing (DRP cannot replay).
    gap = await machines.get()
    assert (gap.type, gap.action, gap.key) == ("websocket", "gap", "1")
    assert gap.object["Reconnects"] == 1 and gap.object["Seconds"] >= 0
    assert (await profiles.get()).topic == "websocket.gap.1"
    assert [(await machines.get()).topic for _ in range(2)] == [
        f"machines.create.{second['Uuid']}", f"machines.delete.{second['Uuid']}",
    ]
    assert (await profiles.get()).topic == "profiles.create.after"
    assert "reconnected" in caplog.text and "machines.create,delete.*" in caplog.text
    assert drp.token not in caplog.text


async def test_wait_for_checks_the_object_then_its_events(api: AsyncClient, stream: EventStream) -> None:
    uuid = (await api.create("machines", {"Name": "m"}))["Uuid"]
    done = await wait_for(api, "machines", uuid, lambda m: m["Name"] == "m", timeout=2)
    assert done["Uuid"] == uuid

    async def count_up() -> None:
        for n in range(1, 4):
            await asyncio.sleep(0.02)
            await api.set_param("machines", uuid, "count", n)

    counter = asyncio.create_task(count_up())
    reached = await wait_for(stream, "machines", uuid,
                             lambda m: m.get("Params", {}).get("count") == 3, timeout=5)
    assert reached["Params"]["count"] == 3
    await counter
    with pytest.raises(TimeoutError, match=f"machines/{uuid}"):
        await wait_for(stream, "machines", uuid, lambda m: False, timeout=0.2)
