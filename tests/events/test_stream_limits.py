"""The event stream's limits, against a scripted websocket server (issue 16, items 1-3).

- a server that accepts and closes at once is retried ever more slowly, with few log lines,
  and ``max_reconnects`` stops it;
- a message that cannot be decoded (1,000 levels of nesting, bad JSON) is skipped and
  counted, and the next event is delivered;
- what a subscription holds unread is bounded in bytes, with backpressure.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from drp_plugin.api import AsyncClient
from drp_plugin.events import EventCallback, EventStream
from drp_plugin.events import stream as stream_module

from .wsserver import ScriptedEvents, scripted_server

TOKEN = "ev3nt-t0ken-value"


@pytest.fixture
async def server() -> AsyncIterator[tuple[ScriptedEvents, AsyncClient]]:
    async with scripted_server() as (script, endpoint), AsyncClient(endpoint, TOKEN) as api:
        yield script, api


def _most_attempts(elapsed: float, backoff: float, max_backoff: float) -> int:
    """How many reconnection attempts fit in ``elapsed`` seconds when each wait is at
    least half of a delay that starts at ``backoff`` and doubles up to ``max_backoff``."""
    attempts, spent, delay = 0, 0.0, backoff
    while spent + delay / 2 <= elapsed:
        spent += delay / 2
        attempts += 1
        delay = min(delay * 2, max_backoff)
    return attempts


@pytest.mark.slow
async def test_a_server_that_closes_at_once_is_retried_ever_more_slowly(
    server: tuple[ScriptedEvents, AsyncClient], caplog: pytest.LogCaptureFixture,
) -> None:
    """main made 2,966 connections in 3 s (about 2,000 log lines/s) against this server."""
    script, api = server
    caplog.set_level(logging.INFO, logger="drp_plugin.events")
    stream = EventStream(api, backoff=0.02, max_backoff=0.2, stable_after=30, warn_interval=120)
    try:
        await stream.subscribe("machines.*.*")
        script.close_at_once = True
        started = time.monotonic()
        await script.drop()
        while len(script.connections) < 4:  # it does reconnect, more than once
            await asyncio.sleep(0.01)
            assert time.monotonic() - started < 30
        await asyncio.sleep(1.0)
        elapsed = time.monotonic() - started
        reconnections = len(script.connections) - 1
    finally:
        await stream.close()
    assert reconnections <= _most_attempts(elapsed, 0.02, 0.2), (reconnections, elapsed)
    assert stream.attempts >= reconnections
    lines = [r for r in caplog.records if r.name == "drp_plugin.events"]
    # One "lost" and one "reconnected" line; the others are counted, not logged.
    assert len(lines) <= 2, [r.getMessage() for r in lines]


async def test_every_reconnection_counts_toward_max_reconnects(
    server: tuple[ScriptedEvents, AsyncClient],
) -> None:
    """On main only failed opens counted, so a server that accepts and closes never ended it."""
    script, api = server
    stream = EventStream(api, backoff=0.01, max_backoff=0.02, stable_after=30, max_reconnects=3)
    try:
        subscription = await stream.subscribe("machines.*.*")
        script.close_at_once = True
        await script.drop()
        with pytest.raises(ConnectionError, match="3 reconnection attempts"):
            async with asyncio.timeout(30):
                while True:
                    await subscription.get()  # gap notices, then the end
    finally:
        await stream.close()
    assert len(script.connections) == 1 + 3


async def test_a_connection_that_stayed_up_starts_the_count_again(
    server: tuple[ScriptedEvents, AsyncClient],
) -> None:
    script, api = server
    stream = EventStream(api, backoff=0.01, max_backoff=0.02, stable_after=0.1, max_reconnects=1)
    try:
        subscription = await stream.subscribe("machines.*.*")
        for n in range(1, 4):  # three losses, each after a connection that stayed up
            await asyncio.sleep(0.2)
            await script.drop()
            async with asyncio.timeout(30):
                while stream.reconnects < n:
                    await asyncio.sleep(0.01)
                await stream.registered()
        await script.send("machines", "save", "m1")
        topics = [(await subscription.get()).topic for _ in range(4)]
    finally:
        await stream.close()
    assert topics == ["websocket.gap.1", "websocket.gap.2", "websocket.gap.3", "machines.save.m1"]


async def test_a_message_that_cannot_be_decoded_is_skipped_and_counted(
    server: tuple[ScriptedEvents, AsyncClient], caplog: pytest.LogCaptureFixture,
) -> None:
    """1,000 levels of nesting (2 KB) made json.loads raise RecursionError on main: every
    subscription ended, with no reconnection, and the next event was never delivered."""
    script, api = server
    caplog.set_level(logging.WARNING, logger="drp_plugin.events")
    stream = EventStream(api)
    try:
        subscription = await stream.subscribe("machines.*.*")
        deep = '{"a":' * 1000 + "1" + "}" * 1000
        await script.send_raw('{"Type": "machines", "Action": "save", "Key": "deep", "Object": '
                              + deep + "}")
        for junk in ["not json", "[1, 2]", '{"Type": 5}', "\"x\"", '{"Object": ' + "[" * 5000]:
            await script.send_raw(junk)
        await script.send("machines", "save", "m1")
        event = await asyncio.wait_for(subscription.get(), 10)
    finally:
        await stream.close()
    assert event.key == "m1"
    assert (stream.undecodable, stream.reconnects) == (6, 0)
    lines = [r.getMessage() for r in caplog.records if r.name == "drp_plugin.events"]
    assert len(lines) == 1 and "nested too deeply" in lines[0], lines


@pytest.mark.slow
async def test_unread_events_are_bounded_in_bytes(server: tuple[ScriptedEvents, AsyncClient]) -> None:
    """On main only the count was bounded: 100 unread events of 4 MiB took RSS to 507 MiB."""
    script, api = server
    stream = EventStream(api, max_pending_bytes=1024 * 1024, ws_queue=2)
    pad = os.urandom(128 * 1024).hex()  # 256 KiB that compression cannot shrink much
    total, sent = 80, 0

    async def publish() -> None:
        nonlocal sent
        for n in range(total):
            await script.send("machines", "save", str(n), {"n": n, "pad": pad})
            sent += 1

    try:
        subscription = await stream.subscribe("machines.*.*")
        publisher = asyncio.create_task(publish())
        most = 0
        async with asyncio.timeout(30):
            while True:  # until the server has been stuck for 0.3 s
                stalled = sent
                await asyncio.sleep(0.3)
                most = max(most, subscription.pending_bytes)
                if sent == stalled and subscription.pending:
                    break
        assert stalled < total, "the server could send everything: the client kept reading"
        assert subscription.pending <= 4  # 1 MiB holds 3 of these events, and one more
        assert most <= 1024 * 1024
        received = [(await subscription.get()).object["n"] for _ in range(total)]
        await publisher
    finally:
        await stream.close()
    assert received == list(range(total))
    assert subscription.pending_bytes == 0


async def test_an_event_larger_than_the_limit_is_refused_and_announced_as_a_gap(
    server: tuple[ScriptedEvents, AsyncClient],
) -> None:
    script, api = server
    stream = EventStream(api, max_event_bytes=64 * 1024, backoff=0.01)
    try:
        subscription = await stream.subscribe("machines.*.*")
        await script.send("machines", "save", "big", "x" * (65 * 1024))
        async with asyncio.timeout(30):
            while stream.reconnects < 1:
                await asyncio.sleep(0.01)
            await stream.registered()
        await script.send("machines", "save", "small")
        gap = await asyncio.wait_for(subscription.get(), 10)
        after = await asyncio.wait_for(subscription.get(), 10)
    finally:
        await stream.close()
    assert gap.topic == "websocket.gap.1" and "too big" in gap.object["Reason"]
    assert after.key == "small"


def test_limits_are_values_never_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """One settings object reads DRP_PLUGIN_EVENT_* (ListenSettings); the stream takes
    values, and a listening provider's bridge hands it the settings' ones."""
    from drp_plugin.protocol.eventsbridge import EventBridge
    from drp_plugin.protocol.settings import ListenSettings

    async def build(**limits: Any) -> EventStream:
        async with AsyncClient("http://127.0.0.1:1", TOKEN) as api:
            return EventStream(api, **limits)

    monkeypatch.setenv("DRP_PLUGIN_EVENT_PENDING_BYTES", "2048")
    stream = asyncio.run(build())
    assert stream.max_pending_bytes == stream_module.PENDING_BYTES  # not read here
    stream = asyncio.run(build(max_pending_bytes=2048, max_backoff=1.5))
    assert (stream.max_pending_bytes, stream.max_backoff) == (2048, 1.5)
    for name, value in [("ws_queue", 0), ("max_event_bytes", -1), ("stable_after", float("nan"))]:
        with pytest.raises(ValueError, match=name):
            asyncio.run(build(**{name: value}))
    settings = ListenSettings.from_env({"DRP_PLUGIN_EVENT_PENDING_BYTES": "4096",
                                        "DRP_PLUGIN_EVENT_WS_QUEUE": "2"})
    bridge = EventBridge(None, None, settings)  # type: ignore[arg-type]
    assert (bridge.settings.event_pending_bytes, bridge.settings.event_ws_queue) == (4096, 2)


def test_the_callback_type_is_not_called_handler() -> None:
    """provider.py has its own ``Handler``; the event stream's callback type is ``EventCallback``."""
    assert not hasattr(stream_module, "Handler")
    assert stream_module.EventCallback is EventCallback
