"""The filebeat spool on its own: memory, then a real spool file, in order, across runs."""

from __future__ import annotations

import asyncio
import logging
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

LOG = logging.getLogger("test.filebeat.spool")


def line(i: int) -> bytes:
    return b'{"n":%d}\n' % i


async def drain(spool: object, max_bytes: int = 40) -> list[bytes]:
    taken: list[bytes] = []
    while batch := await spool.take(max_bytes, 0.01):  # type: ignore[attr-defined]
        taken.extend(batch)
    return taken


async def test_memory_then_disk_then_memory_again(fb: SimpleNamespace, tmp_path: Path) -> None:
    spool = fb.Spool(fb.SpoolFile(str(tmp_path / "spool")), 10, 1 << 20, LOG)
    for i in range(25):  # 10 in memory, 15 spilled
        await spool.put(line(i))
    assert (len(spool.memory), spool.disk_items, spool.spilled) == (10, 15, 15)
    taken = (await spool.take(40, None)) + (await spool.take(40, None))
    for i in range(25, 30):  # the file is not empty: these go after it, not to memory
        await spool.put(line(i))
    assert spool.disk_items == 20
    taken += await drain(spool)
    assert taken == [line(i) for i in range(30)]
    # Drained: the file was emptied; spilling again writes at its start, not after a hole.
    for i in range(30, 60):
        await spool.put(line(i))
    assert spool.disk_items == 20
    raw = (tmp_path / "spool" / "events.jsonl").read_bytes()
    assert raw == b"".join(line(i) for i in range(40, 60))
    assert await drain(spool) == [line(i) for i in range(30, 60)]
    spool.close()
    assert not (tmp_path / "spool" / "events.jsonl").exists()


async def test_full_spool_holds_the_producer(fb: SimpleNamespace, tmp_path: Path) -> None:
    spool = fb.Spool(fb.SpoolFile(str(tmp_path / "spool")), 2, 3 * len(line(0)), LOG)
    for i in range(5):  # 2 in memory, 3 on disk: full
        await spool.put(line(i))
    blocked = asyncio.ensure_future(spool.put(line(5)))
    await asyncio.sleep(0.05)
    assert not blocked.done()
    # Memory first: taking from it makes no room (memory only refills once the file
    # is read), taking from the file does.
    assert await spool.take(1, None) == [line(0)]
    assert await spool.take(1, None) == [line(1)]
    await asyncio.sleep(0.05)
    assert not blocked.done()
    assert await spool.take(1, None) == [line(2)]
    await asyncio.wait_for(blocked, 1)
    assert await drain(spool) == [line(i) for i in range(3, 6)]
    spool.close()


async def test_persist_and_reload_in_order(fb: SimpleNamespace, tmp_path: Path) -> None:
    folder = str(tmp_path / "spool")
    spool = fb.Spool(fb.SpoolFile(folder), 3, 1 << 20, LOG)
    for i in range(2, 10):
        await spool.put(line(i))
    assert await spool.take(len(line(2)), None) == [line(2)]  # memory 3,4 - disk 5..9
    with pytest.raises(OSError, match="in use"):
        fb.SpoolFile(folder)  # locked while this run uses it
    kept, lost = spool.persist([line(0), line(1), line(2)], [line(10)])
    assert (kept, lost) == (11, 0)
    spool.close()
    path = tmp_path / "spool" / "events.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with open(path, "ab") as fh:
        fh.write(b'{"torn":')  # a crash in the middle of a line
    again = fb.Spool(fb.SpoolFile(folder), 3, 1 << 20, LOG)
    assert again.disk_items == 11
    await again.put(line(11))  # after what the previous run left
    assert await drain(again) == [line(i) for i in range(12)]
    again.close()


def test_event_shape(fb: SimpleNamespace) -> None:
    raw: dict[str, Any] = {"Time": "2026-01-01T00:00:00Z", "Type": "machines", "Action": "update", "Key": "u1",
           "Object": {"Name": "m", "OS": "x", "Params": {"gohai-inventory": {"a": 1}, "b": 2}},
           "Original": {"Name": "m", "OS": "y", "Params": {"b": 1}}, "Extra": 1}
    shaped = fb.shape_event(raw)
    assert shaped == {
        "Time": "2026-01-01T00:00:00Z", "Type": "machines", "Action": "update", "Key": "u1",
        "Principal": "",
        "Object": {"Name": "m", "MachineOS": "x", "Params": {"gohai-inventory": {}, "b": 2}},
        "Original": {"Name": "m", "MachineOS": "y", "Params": {"b": 1}}}
    assert raw["Object"]["OS"] == "x"  # the event itself is left alone
    assert fb.encode_event({"Type": "x", "Object": "a\nb"}).count(b"\n") == 1
