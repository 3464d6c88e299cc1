#!/usr/bin/env python3
"""ipmi: out-of-band power, boot device and identify through each machine's BMC.

A port of RackN's Go ``ipmi`` provider (digitalrebar/provision-plugins ``cmds/ipmi``,
v4.8.0): the same name, the same 24 machine actions with the same params, the same
content (``content/``, the Go provider's own), the same answers.

- ``ipmi/mode`` ``ipmitool``: IPMI 2.0 over LAN (``ipmitool -I lanplus``), the
  password in the child's environment (``-E``), never on its command line.
- ``ipmi/mode`` ``redfish``: Redfish over HTTPS with httpx and HTTP basic auth.
- ``racadm`` and ``lpar``: answered with an error naming the mode (see README.md).

Config checks that dr-provision has the ``secure-param-upgrade`` feature, as Go's
does.  See README.md beside this file.  Run it: ``python ipmi.py define``.
"""

from __future__ import annotations

import ipmi_core  # noqa: F401 - an empty package; the build carries what is imported

from drp_plugin import Action, Context, Provider

TYPE_CHECKING = False  # typing, asyncio and httpx stay out of `define`
if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from typing import Any

    from ipmi_core.ipmitool import Runner
    from ipmi_core.redfish import Client
    from ipmi_core.settings import Settings

_CREDENTIALS = ["ipmi/username", "ipmi/password", "ipmi/address", "ipmi/mode"]
_PORTS = ["ipmi/port-ipmitool", "ipmi/port-racadm", "ipmi/port-redfish", "ipmi/port-lpar",
          "ipmi/lpar-id"]
#: The Go provider's AvailableActions, in its order: (command, required, optional).
ACTIONS: list[tuple[str, list[str], list[str]]] = [
    ("poweron", _CREDENTIALS, _PORTS),
    ("poweroff", _CREDENTIALS, _PORTS),
    ("powercycle", _CREDENTIALS, _PORTS),
    ("nextbootcd", ["detected-bios-mode", *_CREDENTIALS], _PORTS),
    ("nextbootpxe", ["detected-bios-mode", *_CREDENTIALS], _PORTS),
    ("nextbootdisk", ["detected-bios-mode", *_CREDENTIALS], _PORTS),
    ("forcebootpxe", ["detected-bios-mode", *_CREDENTIALS], _PORTS),
    ("forcebootdisk", ["detected-bios-mode", *_CREDENTIALS], _PORTS),
    ("identify", _CREDENTIALS, [*_PORTS, "ipmi/identify-duration"]),
    ("powerstatus", _CREDENTIALS, _PORTS),
    ("status", _CREDENTIALS, _PORTS),
    ("getInfo", _CREDENTIALS, _PORTS),
    ("getBios", _CREDENTIALS, _PORTS),
    ("getMemory", _CREDENTIALS, _PORTS),
    ("getStorage", _CREDENTIALS, _PORTS),
    ("getSimpleStorage", _CREDENTIALS, _PORTS),
    ("getProcessor", _CREDENTIALS, _PORTS),
    ("getNetworkInterfaces", _CREDENTIALS, _PORTS),
    ("getEthernetInterfaces", _CREDENTIALS, _PORTS),
    ("getSecureBoot", _CREDENTIALS, _PORTS),
    ("getBoot", _CREDENTIALS, _PORTS),
    ("mountVirtualMedia", [*_CREDENTIALS, "ipmi/virtual-media-url", "ipmi/virtual-media-boot"],
     _PORTS),
    ("unmountVirtualMedia", _CREDENTIALS, _PORTS),
    ("statusVirtualMedia", _CREDENTIALS, _PORTS),
]
#: What answers a mode this provider does not drive.
UNSUPPORTED_MODES = {
    "racadm": ("ipmi/mode racadm is not supported by this provider: Dell's racadm takes the "
               "BMC password only on its command line, where every user of the host can read "
               "it; iDRACs speak Redfish: use ipmi/mode redfish"),
    "lpar": ("ipmi/mode lpar (IBM HMC REST API) is not implemented by this provider; "
             "use ipmi/mode redfish or ipmitool, or the Go ipmi provider for LPARs"),
}


class State:
    """The plugin's state (``ctx.state``): the settings of the last good config, the
    ipmitool runner and the Redfish client, made on the first action that needs them."""

    def __init__(self) -> None:
        self.settings: Settings | None = None
        self.runner: Runner | None = None
        self.redfish: Client | None = None

    def configure(self, settings: Settings) -> None:
        from ipmi_core.ipmitool import Runner

        if settings != self.settings:
            self.settings = settings
            self.runner = Runner(settings)
            old, self.redfish = self.redfish, None
            if old is not None:
                import asyncio

                asyncio.ensure_future(old.close())

    def client(self) -> Client:
        from ipmi_core.redfish import Client

        assert self.settings is not None
        if self.redfish is None:
            self.redfish = Client(self.settings)
        return self.redfish


async def lifespan(ctx: Context) -> AsyncIterator[State]:
    """One :class:`State` from the first config to stop."""
    state = State()
    try:
        yield state
    finally:
        if state.runner is not None:
            await state.runner.stop()
        if state.redfish is not None:
            await state.redfish.close()


# The version is [project].version of pyproject.toml beside this file.
provider = Provider("ipmi", lifespan=lifespan, content="content", auto_start=True)


@provider.config
async def configure(ctx: Context, params: dict[str, Any]) -> None:
    from ipmi_core.errors import rpc_error
    from ipmi_core.settings import SettingError, load

    info = await ctx.api.info()  # an API error is answered as DRP gave it, as Go does
    if "secure-param-upgrade" not in (info.get("features") or []):
        raise rpc_error("dr-provision missing secure-param-upgrade", code=500)
    try:
        settings = load()
    except SettingError as exc:
        raise rpc_error(str(exc), code=400) from None
    ctx.state_as(State).configure(settings)


async def run(ctx: Context, action: Action) -> Any:
    """Every action: the mode's driver runs it (Go's ``Plugin.Action``)."""
    from ipmi_core import ipmitool, redfish
    from ipmi_core.errors import rpc_error
    from ipmi_core.request import parse

    state = ctx.state_as(State)
    req = parse(action.command, action.params)
    if req.mode in UNSUPPORTED_MODES:
        raise rpc_error(UNSUPPORTED_MODES[req.mode], code=501)
    if state.runner is None:  # an action before any config: the defaults
        from ipmi_core.settings import load

        state.configure(load())
    assert state.runner is not None
    if req.mode == "ipmitool":
        return await ipmitool.action(state.runner, ctx.log, req)
    return await redfish.action(state.client(), ctx.log, req)


for _command, _required, _optional in ACTIONS:
    provider.action(_command, model="machines", required=_required, optional=_optional)(run)


if __name__ == "__main__":
    provider.main()
