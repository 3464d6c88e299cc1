#!/usr/bin/env python3
"""A provider whose actions wait, as providers wait on a BMC or a vendor API.

``wait_sync`` blocks its thread (``time.sleep``, as a blocking client library does),
``wait_async`` awaits (``asyncio.sleep``); each waits ``slow/seconds`` (default 1)
and logs one line.  ``bench --only concurrency`` sends N of them at once.
"""

from __future__ import annotations

import asyncio
import time

from drp_plugin import Action, Context, Provider, SyncContext

provider = Provider("slow", version="v1.0.0", optional_params=["slow/seconds"],
                    description="Actions that wait, for the concurrency bench")


def _seconds(action: Action) -> float:
    return float(action.params.get("slow/seconds", 1.0))


@provider.action("wait_sync")
def wait_sync(ctx: SyncContext, action: Action) -> str:
    time.sleep(_seconds(action))
    ctx.log.info("waited")
    return "waited"


@provider.action("wait_async")
async def wait_async(ctx: Context, action: Action) -> str:
    await asyncio.sleep(_seconds(action))
    ctx.log.info("waited")
    return "waited"


if __name__ == "__main__":
    provider.main()
