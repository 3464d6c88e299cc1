#!/usr/bin/env python3
"""incrementer: the Go reference example provider, in Python (decorator style).

Actions:
- ``increment`` (machines): add ``incrementer/step`` (default 1) to the param named
  by ``incrementer/parameter`` (default ``incrementer/default``) and count the call
  in ``incrementer/touched``; answers the new value.
- ``reset_count`` (machines): remove ``incrementer/touched``.
- ``incrstatus`` (system): answers ``"Running"``.

Run it: ``python incrementer.py define`` or, under the local DRP stand-in,
``drp-plugin dev examples/incrementer/incrementer.py --action incrstatus``.
"""

from __future__ import annotations

from drp_plugin import Action, Context, PluginError, Provider, SyncContext

provider = Provider(
    "incrementer",
    description="Increments a parameter on a machine",
    content="content",
    assets="files",
    store_objects={
        "cows": {},
        "typed-cows": {
            "Spotted": {"type": "boolean", "isrequired": True},
            "CanMilk": {"type": "boolean"},
            "Location": {"type": "string"},
        },
    },
)


def _error(*messages: str, code: int = 400) -> PluginError:
    return PluginError(*messages, code=code, model="plugin", key="incrementer", type="plugin")


def _machine_uuid(action: Action) -> str:
    uuid = action.uuid
    if uuid is None:
        raise _error("action target is not a machine (no Uuid)", code=409)
    return uuid


async def _bump(ctx: Context, uuid: str, param: str, step: int) -> int:
    try:
        current = await ctx.api.get_param("machines", uuid, param)
        value = step + (int(current) if current is not None else 0)
        await ctx.api.set_param("machines", uuid, param, value)
    except PluginError as exc:  # DRP's messages, as Go's e.AddError(err) keeps them
        raise _error().add_error(exc) from exc
    return value


@provider.config
def configure(ctx: SyncContext, params: dict[str, object]) -> None:
    ctx.log.info("Config: %d param(s)", len(params))


@provider.action("increment", model="machines",
                 optional=["incrementer/step", "incrementer/parameter"])
async def increment(ctx: Context, action: Action) -> int:
    ctx.log.info("Action: %s", action.command)
    uuid = _machine_uuid(action)
    parameter = action.params.get("incrementer/parameter")
    if not isinstance(parameter, str):
        parameter = "incrementer/default"
    step = action.params.get("incrementer/step", 1)
    if not isinstance(step, (int, float)) or isinstance(step, bool):  # a tuple: runs on 3.9
        step = 1
    value = await _bump(ctx, uuid, parameter, int(step))
    await _bump(ctx, uuid, "incrementer/touched", 1)
    return value


@provider.action("reset_count", model="machines", required=["incrementer/touched"])
async def reset_count(ctx: Context, action: Action) -> str:
    ctx.log.info("Action: %s", action.command)
    uuid = _machine_uuid(action)
    try:
        await ctx.api.delete_param("machines", uuid, "incrementer/touched")
    except PluginError as exc:  # DRP's messages, as Go's e.AddError(err) keeps them
        raise _error().add_error(exc) from exc
    return "Success"


@provider.action("incrstatus")
async def incrstatus(ctx: Context, action: Action) -> str:
    ctx.log.info("Action: %s", action.command)
    return "Running"


if __name__ == "__main__":
    provider.main()
