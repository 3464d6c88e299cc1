"""Events through the websocket: stand-in event hub -> ``/api/v3/ws`` -> provider.

Runs the stand-in (:class:`drp_plugin.standin.StandIn`) in a forked child with its
own event loop, so the orchestrator stays single-threaded.  Throughput is end to
end: from the first publish in the stand-in (paced, see ``PACE``) until the provider's handler counted
the last event (checked with the provider's ``count`` action, so none is lost).
"""

from __future__ import annotations

import asyncio
import os
import time
from multiprocessing.connection import Connection
from typing import Any

from .util import MP, PROVIDERS, PYTHON, machine_object, rss_kb, summary

PLUGIN = "bench-events"
#: The publisher waits while a subscriber has more than this queued: the stand-in closes a
#: client that falls ``DRP_PLUGIN_STANDIN_WS_QUEUE_BYTES`` (16 MiB) behind, so an unpaced
#: burst of 40,000 1 KB events would measure that bound, not the stream.
PACE = 4 * 1024 * 1024


async def _run(events: int, reps: int, warmup: int) -> dict[str, Any]:
    from drp_plugin.models import make_event
    from drp_plugin.standin import StandIn

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # the provider runs like on a real host
    obj = machine_object(512)
    async with StandIn() as drp:
        await drp.add_provider_from_command(None, [PYTHON, str(PROVIDERS / "event_counter.py")])
        await drp.create_plugin(PLUGIN, "event-counter")
        proc = drp.providers.running[PLUGIN].process.proc
        assert proc is not None
        pid = proc.pid

        async def count() -> int:
            reply = await drp.run_action("", "", "count", plugin=PLUGIN)
            return int(reply["events"])

        async def send(n: int) -> dict[str, Any]:
            before = await count()
            t0 = time.perf_counter()
            for i in range(n):
                drp.hub.publish(make_event("bench", "tick", str(i), obj))
                if i % 256 == 255:  # a paced source: the hub bounds what it queues
                    while max((s.queued_bytes for s in drp.hub.subscribers), default=0) > PACE:
                        await asyncio.sleep(0.0005)
            published = time.perf_counter() - t0
            seen, last_change, last = before, time.perf_counter(), before
            while seen - before < n and time.perf_counter() - last_change < 10.0:
                await asyncio.sleep(0.01)
                seen = await count()
                if seen != last:
                    last, last_change = seen, time.perf_counter()
            seconds = time.perf_counter() - t0
            handled = seen - before
            return {"sent": n, "handled": handled, "lost": n - handled,
                    "seconds": round(seconds, 4), "publish_seconds": round(published, 4),
                    "per_s": round(handled / seconds, 1)}

        await send(warmup)
        runs = [await send(events) for _ in range(reps)]
        return {"runs": runs, "per_s": summary([r["per_s"] for r in runs]),
                "lost_total": sum(r["lost"] for r in runs),
                "rss_after_mb": round(rss_kb(pid) / 1024, 2)}


def _child(events: int, reps: int, warmup: int, out: Connection) -> None:
    try:
        out.send(asyncio.run(_run(events, reps, warmup)))
    except Exception as exc:
        out.send({"skipped": f"not measured: websocket run failed: {type(exc).__name__}: {exc}"})


def bench_websocket(events: int, reps: int, warmup: int) -> dict[str, Any]:
    """Run the measurement in a forked child; ``{"skipped": reason}`` when unavailable."""
    try:
        from drp_plugin.standin import StandIn  # noqa: F401
    except Exception as exc:
        return {"skipped": f"not measured: `from drp_plugin.standin import StandIn` fails "
                           f"({type(exc).__name__}: {exc})"}
    recv, send = MP.Pipe(duplex=False)
    child = MP.Process(target=_child, args=(events, reps, warmup, send), daemon=True)
    child.start()
    send.close()
    try:
        if not recv.poll(300):
            return {"skipped": "not measured: the websocket run timed out"}
        result: dict[str, Any] = recv.recv()
        return result
    except EOFError:
        return {"skipped": "not measured: the websocket run died"}
    finally:
        child.join(30)
        if child.is_alive():
            child.kill()
