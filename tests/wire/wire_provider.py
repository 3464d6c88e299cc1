#!/usr/bin/env python3
"""A provider for the wire tests: replies and log lines that stress the HTTP layer."""

from __future__ import annotations

import asyncio

from drp_plugin import Action, Context, PluginError, Provider, SyncContext

provider = Provider("wire", version="v0.0.1", documentation="Wire test provider.")


@provider.config
def configure(ctx: SyncContext, params: dict[str, object]) -> None:
    pass


@provider.action("value")
def value(ctx: SyncContext, action: Action) -> object:
    """Return a float named by the ``kind`` param: nan, inf, -inf or a finite one."""
    return {"x": float(str(action.params.get("kind", "1.5")))}


@provider.action("publish_nan")
async def publish_nan(ctx: Context, action: Action) -> str:
    try:
        await ctx.publish("wire", "nan", "k", {"x": float("nan")})
    except PluginError as exc:
        return f"refused: {exc}"
    return "published"


@provider.action("biglog")
def biglog(ctx: SyncContext, action: Action) -> int:
    """Log ``count`` lines of ``size`` bytes each."""
    size = int(str(action.params.get("size", 1)))
    count = int(str(action.params.get("count", 1)))
    text = "x" * size
    for _ in range(count):
        ctx.log.info("%s", text)
    return count


@provider.action("ok")
async def ok(ctx: Context, action: Action) -> str:
    return "ok"


@provider.action("nap")
async def nap(ctx: Context, action: Action) -> str:
    """Log, sleep ``seconds`` (suspending the handler), log again."""
    ctx.log.info("nap starts")
    await asyncio.sleep(float(str(action.params.get("seconds", 0.01))))
    ctx.log.info("nap ends")
    return f"slept {action.params.get('seconds', 0.01)}"


@provider.action("taskbound")
async def taskbound(ctx: Context, action: Action) -> dict[str, object]:
    """What needs a current task: asyncio.timeout, a TaskGroup, current_task."""
    task = asyncio.current_task()
    async with asyncio.timeout(5):
        async with asyncio.TaskGroup() as group:
            first = group.create_task(asyncio.sleep(0, "a"))
            second = group.create_task(asyncio.sleep(0.01, "b"))
    try:
        async with asyncio.timeout(0.01):
            await asyncio.sleep(5)
        timed_out = False
    except TimeoutError:
        timed_out = True
    return {"task": task is not None and task is asyncio.current_task(),
            "group": first.result() + second.result(), "timed_out": timed_out}


if __name__ == "__main__":
    provider.main()
