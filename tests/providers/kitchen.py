#!/usr/bin/env python3
"""A provider exercising every handler kind, for the runtime tests."""

from __future__ import annotations

import asyncio
import os
import threading
import time

from drp_plugin import Action, Context, Event, PluginError, Provider, SyncContext

provider = Provider(
    "kitchen",
    version="v1.2.3",
    has_publish=os.environ.get("KITCHEN_HAS_PUBLISH") == "1",
    required_params=["kitchen/required"],
    optional_params=["kitchen/optional"],
    documentation="Kitchen sink provider.",
)

state: dict[str, object] = {"events": []}


@provider.config
def configure(ctx: SyncContext, params: dict[str, object]) -> None:
    if params.get("kitchen/refuse"):
        raise PluginError("refused by config", code=403, model="plugin", key="kitchen")
    state["config"] = dict(params)


@provider.action("echo", model="machines", required=["kitchen/a"], optional=["kitchen/b"])
def echo(ctx: SyncContext, action: Action) -> object:
    return {"params": action.params, "uuid": action.uuid, "plugin": ctx.plugin}


@provider.action("boom")
def boom(ctx: SyncContext, action: Action) -> None:
    raise ValueError("kaboom")


@provider.action("teapot")
async def teapot(ctx: Context, action: Action) -> None:
    raise PluginError("short and stout", code=418, model="pots", key="brown", type="kettle")


@provider.action("zero")
async def zero(ctx: Context, action: Action) -> None:
    raise PluginError("no code", code=0)


@provider.action("sleep_sync")
def sleep_sync(ctx: SyncContext, action: Action) -> str:
    time.sleep(float(action.params.get("seconds", 0.5)))  # type: ignore[arg-type]
    return "slept"


_barriers: dict[int, threading.Barrier] = {}
_barriers_lock = threading.Lock()


@provider.action("rendezvous")
def rendezvous(ctx: SyncContext, action: Action) -> int:
    """Returns once ``n`` of these run at once (each on its own thread); fails after
    ``wait`` seconds otherwise."""
    n = int(action.params.get("n", 2))  # type: ignore[call-overload]
    with _barriers_lock:
        barrier = _barriers.setdefault(n, threading.Barrier(n))
    barrier.wait(float(action.params.get("wait", 20)))  # type: ignore[arg-type]
    ctx.log.info("rendezvous of %d", n)
    return n


@provider.action("sleep_async")
async def sleep_async(ctx: Context, action: Action) -> str:
    await asyncio.sleep(float(action.params.get("seconds", 0.5)))  # type: ignore[arg-type]
    return "slept"


@provider.action("log")
def log_lines(ctx: SyncContext, action: Action) -> int:
    count = int(action.params.get("count", 1))  # type: ignore[call-overload]
    quiet = bool(action.params.get("quiet"))
    for i in range(count):
        ctx.log.info("line %d", i, extra={"ignore_publish": quiet})
    return count


@provider.action("not_json")
def not_json(ctx: SyncContext, action: Action) -> object:
    return {1, 2}


@provider.action("publish")
async def publish(ctx: Context, action: Action) -> str:
    await ctx.publish("kitchen", "cooked", "dish", {"n": 1})
    return "published"


@provider.action("events")
def events(ctx: SyncContext, action: Action) -> object:
    return state["events"]


@provider.action("ordered", model="machines", serial=True)
async def ordered(ctx: Context, action: Action) -> int:
    started = time.monotonic()
    await asyncio.sleep(float(action.params.get("seconds", 0.01)))  # type: ignore[arg-type]
    runs = state.setdefault("ordered", [])
    runs.append([action.uuid, action.received, started, time.monotonic()])  # type: ignore[attr-defined]
    return int(action.params.get("seq", 0))  # type: ignore[call-overload]


@provider.action("ordered_runs")
def ordered_runs(ctx: SyncContext, action: Action) -> object:
    return state.get("ordered", [])


@provider.publish
def on_publish(ctx: SyncContext, event: Event) -> None:
    if event.type == "bad":
        raise PluginError("bad event", code=422)
    state["events"].append(event.topic)  # type: ignore[attr-defined]


@provider.stop
def stop(ctx: SyncContext) -> None:
    ctx.log.info("kitchen closing")


if __name__ == "__main__":
    provider.main()
