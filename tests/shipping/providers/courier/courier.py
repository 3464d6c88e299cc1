"""A provider that uses the API from an action and from an event handler (for the
interpreter matrix of built providers).  Its content is found through ``__file__`` and
it has a validate handler, so a built file's ``define`` runs the bootstrap and looks
the content up under the file's own path."""

from __future__ import annotations

import os
from typing import Any

from drp_plugin import Action, Context, Event, Provider, SyncContext

HERE = os.path.dirname(__file__)

provider = Provider("courier", version="v1.0.0", content=os.path.join(HERE, "content"))


@provider.validate
def validate(ctx: SyncContext, definition: dict[str, Any]) -> None:
    """Nothing to change: its presence makes ``define`` run in the built file."""


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
