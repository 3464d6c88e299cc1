"""The filebeat pump across a hand-over to other selections: every event once, in order.

The event stream is the real one of :mod:`drp_plugin.events` without a websocket:
its subscriptions are registered at once and messages go through its dispatcher,
which gives one event to every subscription registered when it arrives (a
subscription exists from ``subscribe`` on, before DRP acknowledged its filters).
The interleavings of a re-config are forced step by step: the pump reads the old
subscription, or waits on a full spool, exactly where each test says.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from drp_plugin.events import EventStream, Pattern, Subscription
from drp_plugin.models import make_event

LOG = logging.getLogger("test.filebeat.pump")


class Wire:
    """An :class:`EventStream` whose subscriptions need no connection; :meth:`publish`
    hands a message to its dispatcher as the websocket reader does."""

    def __init__(self) -> None:
        self.stream = EventStream(SimpleNamespace(endpoint="test"))  # type: ignore[arg-type]

    def subscribe(self, *selections: str) -> Subscription:
        """What ``EventStream.subscribe`` does before it waits for DRP's acknowledgement."""
        subscription = Subscription(self.stream, tuple(Pattern(s) for s in selections), 100,
                                    1 << 20)
        self.stream._subscriptions.append(subscription)
        return subscription

    async def publish(self, key: int | str, kind: str = "fbtest") -> None:
        event = make_event(kind, "tick", str(key), {"n": key})
        await self.stream._dispatch(json.dumps(event).encode())


def keys(lines: list[bytes]) -> list[str]:
    return [f"{e['Type']}:{e['Key']}" for e in map(json.loads, lines)]


def fbtest(*numbers: int) -> list[str]:
    return [f"fbtest:{i}" for i in numbers]


async def settle(check: Callable[[], bool], what: str) -> None:
    """Let the pump run until ``check()`` holds (it needs no timer: only its turns)."""
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{what}: not reached")


async def take(spool: Any, count: int) -> list[bytes]:
    """``count`` lines from the spool, one at a time (a full spool lets the pump go on)."""
    lines: list[bytes] = []
    while len(lines) < count:
        batch = await spool.take(1, 2.0)
        assert batch, f"only {len(lines)} of {count} lines: {keys(lines)}"
        lines.extend(batch)
    return lines


def prepare(pump: Any, selections: list[str]) -> Any:
    """What the pipeline announces to the pump before it subscribes to ``selections``."""
    return pump.prepare([Pattern(s) for s in selections])


async def test_events_read_from_the_old_subscription_after_subscribing_are_not_doubled(
        fb: SimpleNamespace) -> None:
    """The CI failure of test_reconfig_moves_selections_and_destination: '99' twice.

    An event that arrives once the new subscription exists goes to both; the pump,
    not switched yet, queues it from the old one; after the switch the new one
    holds it too and must skip it.
    """
    wire, spool = Wire(), fb.Spool(None, 1000, 0, LOG)
    pump = fb.Pump(spool, LOG)
    old = wire.subscribe("fbtest.*.*")
    pump.start(old)
    for i in range(99):
        await wire.publish(i)
    await settle(lambda: pump.received == 99, "0..98 queued")
    # The re-config: subscribe first (DRP acknowledges the new filter meanwhile) ...
    selections = ["other.*.*", "fbtest.*.*"]
    handover = prepare(pump, selections)
    new = wire.subscribe(*selections)
    await wire.publish(99)  # still on the wire: it reaches both subscriptions
    await settle(lambda: pump.received == 100, "99 queued from the old subscription")
    assert new.pending == 1
    # ... then hand over.
    await pump.hand_over(new, handover)
    await wire.publish(100)
    await wire.publish(0, kind="other")
    await settle(lambda: pump.subscription is new and not new.pending, "the new one read")
    lines = await take(spool, len(spool))
    assert old.closed
    assert keys(lines) == fbtest(*range(101)) + ["other:0"]
    await pump.stop(1.0)


async def test_events_only_the_new_selections_match_do_not_end_the_overlap(
        fb: SimpleNamespace) -> None:
    """The new subscription holds [2, other:0, 3]; the old one had 2 and 3, queued at
    the switch: 'other:0' could never have come through the old one, so 3 is still
    the old one's and is skipped."""
    wire, spool = Wire(), fb.Spool(None, 1, 0, LOG)  # one line: the pump waits on it
    pump = fb.Pump(spool, LOG)
    old = wire.subscribe("fbtest.*.*")
    pump.start(old)
    await wire.publish(0)
    await wire.publish(1)
    await settle(lambda: len(spool) == 1 and old.pending == 0, "0 queued, 1 waiting")
    selections = ["other.*.*", "fbtest.*.*"]
    handover = prepare(pump, selections)
    new = wire.subscribe(*selections)
    await wire.publish(2)
    await wire.publish(0, kind="other")
    await wire.publish(3)
    await pump.hand_over(new, handover)
    assert (old.pending, new.pending) == (2, 3)
    lines = await take(spool, 5)  # 2 and 3 from the old one at the switch, then the new one
    await wire.publish(4)
    lines += await take(spool, 1)
    assert keys(lines) == fbtest(0, 1, 2, 3) + ["other:0"] + fbtest(4)
    assert await spool.take(1, 0.05) == []
    await pump.stop(1.0)


async def test_a_failed_subscribe_leaves_nothing_behind(fb: SimpleNamespace) -> None:
    """A re-config whose subscription fails: the pump goes on, nothing is kept for it."""
    wire, spool = Wire(), fb.Spool(None, 1000, 0, LOG)
    pump = fb.Pump(spool, LOG)
    pump.start(wire.subscribe("fbtest.*.*"))
    handover = prepare(pump, ["fbtest.*.*"])
    await wire.publish(0)
    await settle(lambda: pump.received == 1, "0 queued")
    pump.cancel(handover)
    await wire.publish(1)
    await settle(lambda: pump.received == 2, "1 queued")
    assert len(handover.queued) == 1  # recorded until cancelled only
    assert keys(await take(spool, 2)) == fbtest(0, 1)
    await pump.stop(1.0)


async def test_reconfig_to_other_selections_and_file_writes_each_event_once(
        fb: SimpleNamespace, tmp_path: Path) -> None:
    """test_reconfig_moves_selections_and_destination, the interleaving of its CI failure
    forced: event 99 was still on the wire when the re-config subscribed, reached both
    subscriptions and was read from the old one while DRP acknowledged the new filter."""
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    wire = Wire()
    pipeline = fb.Pipeline(None, "filebeat", LOG)

    async def subscribe(*selections: str) -> Subscription:
        subscription = wire.subscribe(*selections)
        if len(wire.stream._subscriptions) > 1:  # the re-config: 99 arrives before the ack
            await wire.publish(99)
            await settle(lambda: pipeline.pump.received == 100, "99 queued from the old one")
        return subscription

    pipeline.stream = SimpleNamespace(subscribe=subscribe, close=wire.stream.close)

    def params(path: Path, events: list[str]) -> Any:
        return fb.Settings({"filebeat/mode": "file", "filebeat/path": str(path),
                            "filebeat/events": events,
                            "filebeat/spool-dir": str(tmp_path / "spool")})

    async def lines(*paths: Path, count: int) -> list[bytes]:
        for _ in range(500):
            found = [line for path in paths if path.exists()
                     for line in path.read_bytes().splitlines(keepends=True)]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.01)
        raise AssertionError(f"not {count} lines in {paths}: {keys(found)}")

    start = params(first, ["fbtest.*.*"])
    await pipeline.start(start, start.sink())
    for i in range(99):
        await wire.publish(i)
    await lines(first, count=99)
    moved = params(second, ["other.*.*", "fbtest.*.*"])
    await pipeline.reconfigure(moved, moved.sink())
    for i in range(100, 105):
        await wire.publish(i)
    await wire.publish(0, kind="other")
    await lines(first, second, count=106)
    await pipeline.stop()
    assert keys(await lines(first, second, count=106)) == fbtest(*range(105)) + ["other:0"]
