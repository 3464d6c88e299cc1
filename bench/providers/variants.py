#!/usr/bin/env python3
"""``incrstatus`` in four variants, to split an action's cost (bench/profile.py --ablation).

- ``status-sync``: ``def`` + one log line (exactly the incrementer's ``incrstatus``);
- ``status-async``: ``async def`` + one log line (no executor hop);
- ``status-sync-quiet``: ``def``, no log line (no logging, no shipping);
- ``status-async-quiet``: ``async def``, no log line (the runtime's floor).
"""

from __future__ import annotations

from drp_plugin import Action, Context, Provider, SyncContext

provider = Provider("status-variants", description="incrstatus variants for profiling")


@provider.action("status-sync")
def status_sync(ctx: SyncContext, action: Action) -> str:
    ctx.log.info("Action: %s", action.command)
    return "Running"


@provider.action("status-async")
async def status_async(ctx: Context, action: Action) -> str:
    ctx.log.info("Action: %s", action.command)
    return "Running"


@provider.action("status-sync-quiet")
def status_sync_quiet(ctx: SyncContext, action: Action) -> str:
    return "Running"


@provider.action("status-async-quiet")
async def status_async_quiet(ctx: Context, action: Action) -> str:
    return "Running"


if __name__ == "__main__":
    provider.main()
