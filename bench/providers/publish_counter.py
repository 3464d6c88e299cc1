#!/usr/bin/env python3
"""A provider with ``HasPublish``: its ``/publish`` handler counts events.

Action ``count`` answers ``{"events": N}`` so the benchmark can check that no
event was lost.  ``BENCH_PUBLISH_SYNC=1`` registers a plain ``def`` handler
(run in a worker thread) instead of the ``async def`` one.
"""

from __future__ import annotations

import os
import threading

from drp_plugin import Action, Context, Event, Provider, SyncContext

provider = Provider("publish-counter", has_publish=True,
                    description="Counts the events DRP publishes to it")

_count = 0
_lock = threading.Lock()

if os.environ.get("BENCH_PUBLISH_SYNC") == "1":

    @provider.publish
    def on_publish_sync(ctx: SyncContext, event: Event) -> None:
        global _count
        with _lock:
            _count += 1

else:

    @provider.publish
    async def on_publish(ctx: Context, event: Event) -> None:
        global _count
        _count += 1


@provider.action("count")
async def count(ctx: Context, action: Action) -> dict[str, int]:
    with _lock:
        return {"events": _count}


if __name__ == "__main__":
    provider.main()
