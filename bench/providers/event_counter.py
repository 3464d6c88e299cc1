#!/usr/bin/env python3
"""A provider subscribed to DRP's event stream (``bench.tick.*``), counting events.

Action ``count`` answers ``{"events": N}``; the benchmark publishes events into
the stand-in and polls it until every event arrived.
"""

from __future__ import annotations

from drp_plugin import Action, Context, Event, Provider

provider = Provider("event-counter", description="Counts the events of bench.tick.*")

_count = 0


@provider.on_event("bench.tick.*")
async def on_tick(ctx: Context, event: Event) -> None:
    global _count
    _count += 1


@provider.action("count")
async def count(ctx: Context, action: Action) -> dict[str, int]:
    return {"events": _count}


if __name__ == "__main__":
    provider.main()
