"""The stand-in's memory is bounded in bytes (issue 16 items 13 and 14).

A websocket client that registers ``*.*.*`` and never reads is disconnected once its
queue passes ``ws_queue_bytes`` (close 1008: the client sees a gap); the recorded
event and log history keep the newest entries within their count and byte budgets;
uploads stream to disk, so their size does not become the stand-in's memory.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import websockets

from drp_plugin.standin import StandIn
from drp_plugin.standin.eventhub import EventHub
from drp_plugin.standin.logs import LogBook, LogRecord
from drp_plugin.standin.settings import MIB, Limits
from tests.standin.helpers import serve_credentials

KIB = 1024


async def test_slow_event_client_is_cut_off_at_its_byte_budget() -> None:
    limits = Limits(ws_queue_bytes=2 * MIB)
    async with StandIn(limits=limits) as drp:
        url = drp.endpoint.replace("https", "wss") + "/api/v3/ws"
        ssl = httpx.create_ssl_context(verify=False)
        async with websockets.connect(url, ssl=ssl, max_size=None,
                                      additional_headers={"Authorization":
                                                          f"Bearer {drp.token}"}) as ws:
            await ws.send("register *.*.*")
            ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert ack["Type"] == "websocket"
            (sub,) = drp.hub.subscribers
            payload = "x" * (256 * KIB)
            peak = 0
            for i in range(400):                 # 100 MiB offered to a client that never reads
                drp.hub.publish({"Type": "big", "Action": "post", "Key": str(i),
                                 "Object": payload})
                peak = max(peak, sub.queued_bytes)
                await asyncio.sleep(0)
            assert sub.overflowed
            assert peak <= limits.ws_queue_bytes
            assert sub.queued_bytes == 0         # dropped at once, not held until close
            for _ in range(3000):
                if sub not in drp.hub.subscribers:
                    break
                await asyncio.sleep(0.01)
            assert sub not in drp.hub.subscribers
            with pytest.raises(websockets.ConnectionClosed):
                while True:                      # what the kernel buffered, then the close
                    await asyncio.wait_for(ws.recv(), 30)
            assert ws.close_code == 1008


async def test_event_history_is_bounded_by_count_and_bytes() -> None:
    hub = EventHub(max_events=50, max_event_bytes=200 * KIB)
    for i in range(1000):
        hub.publish({"Type": "t", "Action": "a", "Key": str(i), "Object": "y" * (10 * KIB)})
    assert len(hub.events) <= 50 and hub.history_bytes <= 200 * KIB
    assert hub.dropped + len(hub.events) == hub.next_index == 1000
    assert hub.events[-1]["Key"] == "999"
    # indexes stay absolute: waiting from an index finds the event published there
    found = await hub.wait_for(lambda e: True, timeout=1, since=990)
    assert found["Key"] == "990"
    small = EventHub(max_events=5)
    for i in range(12):
        small.publish({"Type": "t", "Action": "a", "Key": str(i)})
    assert [e["Key"] for e in small.events] == ["7", "8", "9", "10", "11"]
    assert small.dropped == 7


def test_log_history_is_bounded_by_count_and_bytes() -> None:
    book = LogBook(max_records=100, max_bytes=64 * KIB)
    seen: list[str] = []
    book.listeners.append(lambda r: seen.append(r.message))
    for i in range(500):
        book.add(LogRecord("log", "p", "p", "info", f"{i}:" + "z" * 1000))
    assert len(book.records) <= 100 and book.bytes <= 64 * KIB
    assert book.dropped == 500 - len(book.records)
    assert book.records[-1].message.startswith("499:")
    assert len(seen) == 500                  # listeners still see every line


async def test_upload_over_the_limit_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    async with StandIn(limits=Limits(max_upload=1 * MIB)) as drp:
        async with httpx.AsyncClient(base_url=drp.endpoint + "/api/v3", verify=False,
                                     headers={"Authorization": f"Bearer {drp.token}"},
                                     timeout=60) as client:
            big = b"\0" * (2 * MIB)
            resp = await client.post("/files/big.bin", content=big)
            assert resp.status_code == 413 and resp.json()["Code"] == 413
            assert not (drp.webroot / "files" / "big.bin").exists()
            assert [p.name for p in (drp.webroot / "files").iterdir()] == []
            resp = await client.post("/plugin_providers/big", content=big)
            assert resp.status_code == 413
            assert list((drp.root / "uploads").iterdir()) == []
            ok = await client.post("/files/small.bin", content=b"1" * 1000)
            assert ok.status_code == 201


def _hwm_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert match, status
    return int(match.group(1))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_upload_streams_to_disk_rss(tmp_path: Path) -> None:
    """A 256 MiB upload raises the serving process's peak RSS by far less than 256 MiB
    (the old code read the body whole: peak grew by at least the upload's size)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "drp_plugin.standin.cli", "serve", "--port", "0",
         "--file-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "DRP_PLUGIN_STANDIN_MAX_UPLOAD": str(512 * MIB)})
    try:
        assert proc.stdout is not None
        endpoint, token = serve_credentials(proc.stdout)
        assert endpoint and token
        before = _hwm_kib(proc.pid)
        size = 256 * MIB

        def body() -> bytes:  # streamed from a generator: the client holds 1 MiB at a time
            for _ in range(size // MIB):
                yield b"\1" * MIB

        with httpx.Client(verify=False, timeout=300,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            resp = client.post(endpoint + "/api/v3/files/huge.bin", content=body())
        assert resp.status_code == 201, resp.text
        assert resp.json() == {"Path": "/huge.bin", "Size": size}
        grown_mib = (_hwm_kib(proc.pid) - before) / 1024
        print(f"\npeak RSS grew {grown_mib:.1f} MiB for a 256 MiB upload")
        assert grown_mib < 64, f"peak RSS grew {grown_mib:.0f} MiB for a 256 MiB upload"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


async def test_publish_feed_of_a_slow_plugin_is_bounded_and_counted() -> None:
    """A HasPublish plugin's feed cannot reconnect, so past its byte budget frames are
    dropped, counted and reported through ``on_overflow`` (the stand-in notes them in
    its logs), never queued without bound."""
    from drp_plugin.standin.eventhub import Subscriber

    stuck = asyncio.Event()
    reported: list[int] = []

    async def send(text: str) -> None:
        await stuck.wait()                     # a plugin that never answers /publish

    async def close() -> None:
        return None

    sub = Subscriber(send, close, "plugin:slow", accept=lambda e: True,
                     max_queue_bytes=64 * KIB, on_overflow=reported.append)
    try:
        frame = "e" * KIB
        peak = 0
        for _ in range(1000):
            sub.push(frame)
            peak = max(peak, sub.queued_bytes)
            await asyncio.sleep(0)
        assert peak <= 64 * KIB
        assert sub.dropped == len(reported) > 900 and not sub.overflowed
    finally:
        stuck.set()
        await sub.stop()
