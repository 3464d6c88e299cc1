#!/usr/bin/env python3
"""A provider declaring actions the way Go's certs plugin does, for the tests.

Go certs (digitalrebar/provision-plugins ``cmds/certs/certs.go``, ``AvailableActions``)
declares ``deleteroot`` and ``signcert`` once per model: on machines they need
``certs/root`` and ``certs/root-pw``, on plugins ``certs/root`` only.  Here one
handler serves both registrations of ``deleteroot``, and ``signcert`` has a handler
per model.  The plugin's state (the roots) lives in a lifespan; its teardown is
written to ``$CERTS_STYLE_JOURNAL`` so a test can see it ran on stop.
"""

from __future__ import annotations

import os

from drp_plugin import Action, Context, Provider, SyncContext
from drp_plugin.models import Machine, PluginObject

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from typing import Any


class Roots:
    """The plugin's state: the roots it knows, and how many configs it saw."""

    def __init__(self) -> None:
        self.roots: dict[str, str] = {"demo": "pw"}
        self.configs = 0


def _journal(line: str) -> None:
    path = os.environ.get("CERTS_STYLE_JOURNAL")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


async def lifespan(ctx: Context) -> AsyncIterator[Roots]:
    _journal("setup")
    roots = Roots()
    yield roots
    _journal(f"teardown after {roots.configs} config(s)")


provider = Provider("certs-style", lifespan=lifespan)


@provider.config
def configure(ctx: SyncContext, params: dict[str, Any]) -> None:
    ctx.state_as(Roots).configs += 1


@provider.action("deleteroot", model="plugins", required=["certs/root"])
@provider.action("deleteroot", model="machines", required=["certs/root", "certs/root-pw"])
def deleteroot(ctx: SyncContext, action: Action) -> dict[str, Any]:
    roots = ctx.state_as(Roots)
    root = action.params["certs/root"]
    if action.target_model == "machines":
        machine = action.target_as(Machine)   # typed view of the target
        checked = roots.roots.get(root) == action.params["certs/root-pw"]
        return {"model": "machines", "uuid": machine.uuid, "password_checked": checked}
    plugin = action.target_as(PluginObject)
    return {"model": "plugins", "plugin": plugin.name, "provider": plugin.provider,
            "configs": roots.configs}


@provider.action("signcert", model="machines", required=["certs/root", "certs/root-pw", "certs/csr"])
async def signcert_machine(ctx: Context, action: Action) -> str:
    return f"machine {action.target_as(Machine).name}"


@provider.action("signcert", model="plugins", required=["certs/root", "certs/csr"])
async def signcert_plugin(ctx: Context, action: Action) -> str:
    return f"plugin {action.target_as(PluginObject).name}"


@provider.action("listroots", model=["", "plugins"])
def listroots(ctx: SyncContext, action: Action) -> dict[str, Any]:
    target = action.target
    return {"model": action.target_model, "target": None if target is None else target.key,
            "roots": sorted(ctx.state_as(Roots).roots)}


if __name__ == "__main__":
    provider.main()
