#!/usr/bin/env python3
"""A provider whose lifespan takes ``SLOW_LIFESPAN_SECONDS`` to start and writes each
enter and exit to the file ``SLOW_LIFESPAN_LOG`` (the lifespan tests read it)."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator

from drp_plugin import Action, Context, Provider

provider = Provider("slow-lifespan", version="v1.0.0")
_numbers = itertools.count(1)


def _record(line: str) -> None:
    with open(os.environ["SLOW_LIFESPAN_LOG"], "a", encoding="utf-8") as f:
        f.write(line + "\n")


@provider.lifespan
async def lifespan(ctx: Context) -> AsyncIterator[int]:
    number = next(_numbers)
    _record(f"enter {number}")
    await asyncio.sleep(float(os.environ.get("SLOW_LIFESPAN_SECONDS", "1")))
    try:
        yield number
    finally:
        _record(f"exit {number}")


@provider.action("state")
async def state(ctx: Context, action: Action) -> object:
    return ctx.state


if __name__ == "__main__":
    provider.main()
