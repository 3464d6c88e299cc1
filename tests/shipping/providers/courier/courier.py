"""A provider that uses the API from an action and from an event handler (for the
interpreter matrix of built providers)."""

from __future__ import annotations

from drp_plugin import Action, Context, Event, Provider

provider = Provider("courier", version="v1.0.0")


@provider.action("deliver", model="machines", optional=["courier/parcel"])
async def deliver(ctx: Context, action: Action) -> str:
    parcel = str(action.params.get("courier/parcel", "box"))
    await ctx.api.set_param("machines", action.uuid, "courier/delivered", parcel)
    return parcel


@provider.on_event("machines.save,update.*")
async def on_update(ctx: Context, event: Event) -> None:
    params = event.object.get("Params", {}) if isinstance(event.object, dict) else {}
    ring = params.get("courier/ring") if isinstance(params, dict) else None
    if ring is not None and params.get("courier/answered") != ring:
        await ctx.api.set_param("machines", event.key, "courier/answered", ring)


if __name__ == "__main__":
    provider.main()
