"""The event stream under faults: the websocket dropped 10 times during a burst.

DRP cannot replay events, so the promise is: every event that arrives arrives
once and in order, and any event that is missing is announced by a
``websocket.gap`` notice before the events that follow it.  Nothing is lost
silently.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from drp_plugin.api import AsyncClient
from drp_plugin.events import EventStream
from drp_plugin.standin import StandIn

BURST = 2000
DROPS = 10


@pytest.fixture
async def drp() -> AsyncIterator[StandIn]:
    async with StandIn() as standin:
        yield standin


@pytest.mark.slow
async def test_burst_with_ten_dropped_connections(drp: StandIn) -> None:
    async with AsyncClient(drp.endpoint, drp.token) as api, \
            EventStream(api, backoff=0.01, max_backoff=0.05) as stream:
        subscription = await stream.subscribe("profiles.create.*", queue_size=50)
        names = [f"burst-{n:05d}" for n in range(BURST)]

        async def produce() -> None:
            for n, name in enumerate(names):
                await api.create("profiles", {"Name": name})
                if n % (BURST // (DROPS + 1)) == BURST // (DROPS + 1) - 1 and stream.reconnects < DROPS:
                    await drp.drop_websockets()

        received: list[str] = []
        gaps_before: dict[int, int] = {}  # index in received -> gaps announced before it
        gaps = 0

        async def consume() -> None:
            nonlocal gaps
            while not received or received[-1] != names[-1]:
                event = await subscription.get()
                if event.type == "websocket" and event.action == "gap":
                    gaps += 1
                    continue
                gaps_before[len(received)] = gaps
                received.append(event.key)
                await asyncio.sleep(0)  # a consumer that yields: backpressure reaches the wire

        producer = asyncio.create_task(produce())
        async with asyncio.timeout(120):
            await asyncio.gather(producer, consume())

    assert stream.reconnects == DROPS
    assert gaps == DROPS
    # once and in order
    assert len(received) == len(set(received))
    positions = [names.index(k) for k in received]
    assert positions == sorted(positions)
    # every hole in the sequence comes after a gap notice
    for i in range(1, len(positions)):
        if positions[i] != positions[i - 1] + 1:
            assert gaps_before[i] > gaps_before[i - 1], (received[i - 1], received[i])
    lost = BURST - len(received)
    print(f"burst of {BURST} events, {DROPS} drops: {lost} missed, all announced by {gaps} gap notices")
