"""The event stream on the wire, against a scripted websocket server."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drp_plugin.api import AsyncClient
from drp_plugin.errors import StreamClosed
from drp_plugin.events import EventStream
from drp_plugin.models import Event

from .wsserver import ScriptedEvents, scripted_server

TOKEN = "ev3nt-t0ken-value"


@pytest.fixture
async def wire() -> AsyncIterator[tuple[ScriptedEvents, EventStream]]:
    async with scripted_server() as (script, endpoint), AsyncClient(endpoint, TOKEN) as api:
        stream = EventStream(api, backoff=0.01, max_backoff=0.05)
        yield script, stream
        await stream.close()


async def test_filters_are_registered_once_and_deregistered_with_their_last_user(
    wire: tuple[ScriptedEvents, EventStream],
) -> None:
    script, stream = wire
    a = await stream.subscribe("machines.*.*", "profiles.*.*", " machines.*.* ")
    b = await stream.subscribe("machines.*.*")
    assert script.frames == ["register machines.*.*", "register profiles.*.*"]
    assert script.authorizations == [f"Bearer {TOKEN}"]
    await a.close()
    assert await script.wait_frames(3) == [
        "register machines.*.*", "register profiles.*.*", "deregister profiles.*.*"
    ]
    await b.close()
    assert (await script.wait_frames(4))[-1] == "deregister machines.*.*"


async def test_subscribe_waits_for_the_acknowledgement(wire: tuple[ScriptedEvents, EventStream]) -> None:
    script, stream = wire
    script.ack = False
    pending = asyncio.create_task(stream.subscribe("machines.*.*"))
    await script.wait_frames(1)
    await asyncio.sleep(0.05)
    assert not pending.done()
    await script.acknowledge(script.current, "register", "machines.*.*")
    subscription = await asyncio.wait_for(pending, 2)
    assert subscription.patterns == ("machines.*.*",)


async def test_an_unacknowledged_filter_times_out_and_is_withdrawn(
    wire: tuple[ScriptedEvents, EventStream],
) -> None:
    script, stream = wire
    script.ack = False
    stream.ack_timeout = 0.1
    with pytest.raises(TimeoutError):
        await stream.subscribe("machines.*.*")
    assert await script.wait_frames(2) == ["register machines.*.*", "deregister machines.*.*"]


async def test_each_subscription_gets_only_what_its_own_filters_match(
    wire: tuple[ScriptedEvents, EventStream],
) -> None:
    script, stream = wire
    machines = await stream.subscribe("machines.*.*")
    p1 = await stream.subscribe("profiles.save,update.p1")
    for topic in [("profiles", "save", "p2"), ("machines", "create", "m1"), ("profiles", "save", "p1"),
                  ("profiles", "delete", "p1"), ("machines", "delete", "m1")]:
        await script.send(*topic)
    assert [(await machines.get()).topic for _ in range(2)] == ["machines.create.m1", "machines.delete.m1"]
    assert (await p1.get()).topic == "profiles.save.p1"
    await asyncio.sleep(0.05)
    assert machines.pending == 0 and p1.pending == 0


@pytest.mark.slow
async def test_a_full_queue_stops_reading_the_websocket(wire: tuple[ScriptedEvents, EventStream]) -> None:
    script, stream = wire
    subscription = await stream.subscribe("machines.*.*", queue_size=4)
    padding = os.urandom(32 * 1024).hex()  # 64 KiB per event, so socket buffers fill quickly
    total, sent = 400, 0

    async def publish() -> None:
        nonlocal sent
        for n in range(total):
            await script.send("machines", "save", str(n), {"n": n, "pad": padding})
            sent += 1

    publisher = asyncio.create_task(publish())
    async with asyncio.timeout(10):
        while True:  # until the queue is full and the server has been stuck for 0.3 s
            stalled = sent
            await asyncio.sleep(0.3)
            if sent == stalled and subscription.pending == 4:
                break
    assert stalled < total, "the server could send everything: the client kept reading"
    received = [(await subscription.get()).object["n"] for _ in range(total)]
    assert received == list(range(total))
    await publisher


async def test_a_connection_lost_before_the_acknowledgement_is_registered_again(
    wire: tuple[ScriptedEvents, EventStream], caplog: pytest.LogCaptureFixture,
) -> None:
    script, stream = wire
    caplog.set_level(logging.WARNING, logger="drp_plugin.events")
    script.ack = False
    pending = asyncio.create_task(stream.subscribe("machines.*.*"))
    await script.wait_frames(1)
    script.ack = True
    await script.drop()
    subscription = await asyncio.wait_for(pending, 5)
    assert script.frames == ["register machines.*.*", "register machines.*.*"]
    assert len(script.connections) == 2 and stream.reconnects == 1
    await script.send("machines", "save", "m1")
    assert (await subscription.get()).topic == "websocket.gap.1"  # conservative: it was waiting
    assert (await subscription.get()).key == "m1"
    assert "reconnected" in caplog.text and "machines.*.*" in caplog.text
    assert TOKEN not in caplog.text


async def test_giving_up_ends_subscriptions_after_their_queued_events(
    wire: tuple[ScriptedEvents, EventStream],
) -> None:
    script, stream = wire
    stream.max_reconnects = 2
    subscription = await stream.subscribe("machines.*.*")
    await script.send("machines", "save", "m1")
    await script.send("machines", "save", "m2")
    script.refuse = True
    await script.drop()
    assert [(await subscription.get()).key for _ in range(2)] == ["m1", "m2"]
    with pytest.raises(ConnectionError, match="event stream lost"):
        await subscription.get()
    with pytest.raises(StreamClosed):
        await stream.subscribe("profiles.*.*")


async def test_handlers_receive_events_in_order_and_survive_their_errors(
    wire: tuple[ScriptedEvents, EventStream], caplog: pytest.LogCaptureFixture,
) -> None:
    script, stream = wire
    seen: list[str] = []
    done = asyncio.Event()

    async def handler(event: Event) -> None:
        if event.key == "bad":
            raise RuntimeError("handler bug")
        seen.append(event.key)
        if len(seen) == 3:
            done.set()

    plain: list[str] = []
    subscription = await stream.subscribe("machines.*.*", handler=handler)
    second = await stream.subscribe("machines.*.*", handler=lambda e: plain.append(e.key))
    for key in ["a", "bad", "b", "c"]:
        await script.send("machines", "save", key)
    await asyncio.wait_for(done.wait(), 2)
    assert seen == ["a", "b", "c"]
    assert "handler bug" in caplog.text
    await subscription.close()
    await second.close()
    assert plain == ["a", "bad", "b", "c"]


async def test_closing_the_stream_lets_subscribers_drain(wire: tuple[ScriptedEvents, EventStream]) -> None:
    script, stream = wire
    subscription = await stream.subscribe("machines.*.*")
    await script.send("machines", "save", "m1")
    while subscription.pending == 0:
        await asyncio.sleep(0.01)
    await stream.close()
    assert [event.key async for event in subscription] == ["m1"]


async def test_events_go_through_the_local_proxy_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "proxy.sock")
    async with scripted_server(unix=path) as (script, _), AsyncClient(
        "https://192.0.2.1:8092", TOKEN, local_proxy=path
    ) as api, EventStream(api) as stream:
        subscription = await stream.subscribe("machines.*.*")
        await script.send("machines", "save", "m1")
        assert (await subscription.get()).key == "m1"
    assert script.authorizations == [f"Bearer {TOKEN}"]


async def test_filters_are_checked_before_anything_is_sent(wire: tuple[ScriptedEvents, EventStream]) -> None:
    script, stream = wire
    with pytest.raises(ValueError, match="type.action.key"):
        await stream.subscribe("machines.update")
    with pytest.raises(ValueError, match="at least one"):
        await stream.subscribe()
    assert script.frames == []
