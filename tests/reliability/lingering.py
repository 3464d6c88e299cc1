#!/usr/bin/env python3
"""A provider whose handlers leave things behind: slow actions, stuck threads, children."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time

from drp_plugin import Action, Context, Provider, SyncContext

provider = Provider("lingering", version="v0.0.1")


@provider.action("sleep_async")
async def sleep_async(ctx: Context, action: Action) -> str:
    await asyncio.sleep(float(action.params.get("seconds", 1.0)))  # type: ignore[arg-type]
    return "slept"


@provider.action("sleep_sync")
def sleep_sync(ctx: SyncContext, action: Action) -> str:
    # Past its action timeout this keeps an executor thread for the whole sleep.
    time.sleep(float(action.params.get("seconds", 1.0)))  # type: ignore[arg-type]
    return "slept"


@provider.action("thread")
def start_thread(ctx: SyncContext, action: Action) -> str:
    # A non-daemon thread that never ends: interpreter shutdown would join it forever.
    threading.Thread(target=time.sleep, args=(3600,), name="left-behind").start()
    return "started"


@provider.action("child")
def start_child(ctx: SyncContext, action: Action) -> int:
    # Inherits stdout and stderr, and outlives the provider.
    child = subprocess.Popen(["sleep", "600"])  # noqa: S603, S607
    return child.pid


@provider.action("print")
def say(ctx: SyncContext, action: Action) -> str:
    print("said on stdout", flush=True)
    return "said"


if __name__ == "__main__":
    provider.main()
