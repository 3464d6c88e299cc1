"""KeyedLocks: one at a time per key, in arrival order, keys forgotten when idle."""

from __future__ import annotations

import asyncio

import pytest

from drp_plugin.ordering import KeyedLocks


async def test_one_key_runs_in_arrival_order_without_overlap() -> None:
    locks = KeyedLocks()
    order: list[int] = []
    inside = 0
    overlap = False

    async def job(n: int) -> None:
        nonlocal inside, overlap
        async with locks.hold("m1"):
            inside += 1
            overlap = overlap or inside > 1
            await asyncio.sleep(0)  # let the others try to get in
            order.append(n)
            inside -= 1

    await asyncio.gather(*(job(n) for n in range(50)))
    assert order == list(range(50))
    assert not overlap
    assert len(locks) == 0


async def test_different_keys_do_not_wait_for_each_other() -> None:
    locks = KeyedLocks()
    release = asyncio.Event()
    entered: list[str] = []

    async def hold(key: str) -> None:
        async with locks.hold(key):
            entered.append(key)
            await release.wait()

    tasks = [asyncio.create_task(hold(k)) for k in ("a", "b", "c")]
    for _ in range(100):  # bounded: a few loop turns are enough
        if len(entered) == 3:
            break
        await asyncio.sleep(0)
    assert sorted(entered) == ["a", "b", "c"]
    assert len(locks) == 3
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    assert len(locks) == 0


async def test_a_failing_holder_releases_the_key() -> None:
    locks = KeyedLocks()
    with pytest.raises(RuntimeError):
        async with locks.hold("k"):
            raise RuntimeError("boom")
    assert len(locks) == 0
    async with locks.hold("k"):
        assert len(locks) == 1


async def test_a_cancelled_waiter_does_not_leak_its_key() -> None:
    locks = KeyedLocks()
    release = asyncio.Event()

    async def holder() -> None:
        async with locks.hold("k"):
            await release.wait()

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    release.set()
    await asyncio.wait_for(first, 30)
    assert len(locks) == 0
