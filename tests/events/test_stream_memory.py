"""Memory of an event stream client whose subscription is never read (issue 16, item 3).

The client runs in a subprocess (its peak RSS is its own); the server keeps sending 4 MiB
events until it cannot send more (backpressure), then the client reports its peak RSS.
On main (100 events pending whatever their size, and the websocket library's 16 frames)
the same run took the client from 32 to 507 MiB.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap

import pytest

from .wsserver import scripted_server

CLIENT = textwrap.dedent("""
    import asyncio, sys
    from drp_plugin.api import AsyncClient
    from drp_plugin.events import EventStream

    def peak():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024

    async def main():
        async with AsyncClient(sys.argv[1], "t0ken") as api, EventStream(api) as stream:
            subscription = await stream.subscribe("machines.*.*")
            print("subscribed", peak(), flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            print("peak", peak(), subscription.pending, subscription.pending_bytes, flush=True)

    asyncio.run(main())
""")

EVENT_BYTES = 4 * 1024 * 1024


@pytest.mark.slow
async def test_an_unread_subscription_stays_bounded_in_memory() -> None:
    async with scripted_server() as (script, endpoint):
        client = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CLIENT, endpoint, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE)
        assert client.stdin is not None and client.stdout is not None
        try:
            ready = (await asyncio.wait_for(client.stdout.readline(), 60)).split()
            assert ready[0] == b"subscribed", ready
            start_rss = int(ready[1])
            pad = os.urandom(EVENT_BYTES // 2).hex()  # 4 MiB that compression cannot shrink
            sent = 0

            async def publish() -> None:
                nonlocal sent
                while sent < 100:
                    await script.send("machines", "save", str(sent), {"pad": pad})
                    sent += 1

            publisher = asyncio.create_task(publish())
            async with asyncio.timeout(120):
                while True:  # until the server has been stuck for a second
                    stalled = sent
                    await asyncio.sleep(1.0)
                    if sent == stalled:
                        break
            client.stdin.write(b"report\n")
            await client.stdin.drain()
            report = (await asyncio.wait_for(client.stdout.readline(), 60)).split()
            publisher.cancel()
        finally:
            if client.returncode is None:
                client.kill()
            await client.wait()
    assert report[0] == b"peak", report
    peak, pending, pending_bytes = int(report[1]), int(report[2]), int(report[3])
    print(json.dumps({"sent": sent, "start_mib": start_rss >> 20, "peak_mib": peak >> 20,
                      "pending": pending, "pending_bytes": pending_bytes}))
    assert sent < 100, "the server could send everything: no backpressure"
    # Unread: at most 16 MiB + one event; the websocket library: 4 frames of at most one
    # event each, plus the message being decoded.  Main: 100 events (400 MiB) + 16 frames.
    assert pending_bytes <= 16 * 1024 * 1024 + EVENT_BYTES
    assert peak - start_rss < 160 * 1024 * 1024, (start_rss >> 20, peak >> 20)
