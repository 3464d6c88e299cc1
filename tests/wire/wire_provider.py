#!/usr/bin/env python3
"""A provider for the wire tests: replies and log lines that stress the HTTP layer."""

from __future__ import annotations

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


if __name__ == "__main__":
    provider.main()
