#!/usr/bin/env python3
"""A provider that follows machine updates through DRP's event stream (for tests)."""

from __future__ import annotations

import asyncio

from drp_plugin import Action, Context, Event, Provider

provider = Provider("watcher", version="v0.1.0")
seen: list[list[object]] = []


@provider.on_event("machines.save,update.*")
async def on_update(ctx: Context, event: Event) -> None:
    params = event.object.get("Params", {}) if isinstance(event.object, dict) else {}
    seen.append([event.key, params.get("watch/count")])
    if len(seen) % 25 == 0:
        await asyncio.sleep(0.01)  # a deliberately slow consumer: the stream must wait


@provider.action("seen")
async def report(ctx: Context, action: Action) -> list[list[object]]:
    return seen


if __name__ == "__main__":
    provider.main()
