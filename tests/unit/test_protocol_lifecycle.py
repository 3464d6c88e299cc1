"""The lifecycle alone: one drain joined by every stop, reply accounting, bounded awaits."""

from __future__ import annotations

import asyncio

import pytest

from drp_plugin.protocol.lifecycle import Lifecycle, bounded


async def test_one_drain_for_every_request_and_finished_after_the_replies() -> None:
    runs: list[str] = []
    release = asyncio.Event()

    async def stop_work() -> None:
        runs.append("stop")
        await release.wait()

    life = Lifecycle(stop_work, stop_timeout=30, reply_wait=30)
    first = asyncio.create_task(life.join_stop("/stop"))
    await asyncio.sleep(0)
    assert life.stopping and life.reason == "/stop"
    drain = life.request_stop("SIGTERM received")  # joins: no second drain
    second = asyncio.create_task(life.join_stop("/stop again"))
    await asyncio.sleep(0.01)
    assert runs == ["stop"] and not first.done() and not second.done()
    release.set()
    await asyncio.gather(first, second, drain)
    await asyncio.sleep(0.01)
    assert not life.finished.is_set()  # two /stop replies still to be written
    life.reply_written()
    await asyncio.sleep(0.01)
    assert not life.finished.is_set()
    life.reply_written()
    await asyncio.wait_for(life.finished.wait(), 10)
    assert life.reason == "/stop"


async def test_actions_are_waited_for_then_abandoned() -> None:
    async def nothing() -> None:
        return None

    life = Lifecycle(nothing, stop_timeout=0.2, reply_wait=5)
    outcome: list[str] = []

    async def action(seconds: float) -> None:
        token = life.action_started()
        try:
            await asyncio.sleep(seconds)
            outcome.append("done")
        except asyncio.CancelledError:
            assert life.abandoned()
            outcome.append("abandoned")
        finally:
            life.action_finished(token)

    quick = asyncio.create_task(action(0.01))
    slow = asyncio.create_task(action(3600))
    await asyncio.sleep(0)
    assert life.in_flight == 2
    await life.request_stop("test")
    await asyncio.wait_for(life.finished.wait(), 10)
    await asyncio.gather(quick, slow)
    assert sorted(outcome) == ["abandoned", "done"] and life.in_flight == 0


async def test_bounded_never_raises_and_never_hangs(capsys: pytest.CaptureFixture[str]) -> None:
    assert await bounded(asyncio.sleep(0), 1, "nothing")
    assert not await bounded(asyncio.sleep(3600), 0.05, "a hung close")

    async def broken() -> None:
        raise OSError(24, "Too many open files")

    assert not await bounded(broken(), 1, "flushing the log")
    err = capsys.readouterr().err
    assert "a hung close did not finish within 0.05s" in err
    assert "flushing the log failed: OSError: [Errno 24] Too many open files" in err
