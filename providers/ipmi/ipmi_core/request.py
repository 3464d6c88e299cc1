"""One action's params, read the way the Go provider reads them, minus its panics.

The Go provider converts params with unchecked type assertions: a port param that
is missing, a numeric ``ipmi/identify-duration`` (JSON numbers are float64) or a
``detected-bios-mode`` that is null each answer 500 ``Panic recovered: interface
conversion: ...``.  Here a missing port is the param's default (the content's
schema default, the one DRP itself fills in), a number is a number, and a missing
boot mode is legacy BIOS; a value of the wrong type is a 400 naming the param
(never quoting a credential's value).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import rpc_error

#: The modes and the port param each one reads, with the param's default from
#: ``content/params`` (0: no port option is passed, the tool's own default is used).
PORTS = {
    "ipmitool": ("ipmi/port-ipmitool", 0),
    "racadm": ("ipmi/port-racadm", 0),
    "racadmn": ("ipmi/port-racadm", 0),  # the Go provider's typo, kept as an alias
    "redfish": ("ipmi/port-redfish", 443),
    "lpar": ("ipmi/port-lpar", 12443),
}
#: What Go's ipmitool driver blinks for when ``ipmi/identify-duration`` is absent.
DEFAULT_IDENTIFY = 15


@dataclass(frozen=True)
class Request:
    """What one action needs to reach its BMC.  ``repr`` never shows the password."""

    command: str
    mode: str
    address: str
    port: int
    username: str
    password: str = field(repr=False)
    params: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def uefi(self) -> bool:
        """``detected-bios-mode`` is ``uefi`` (absent or null: legacy BIOS)."""
        return self.params.get("detected-bios-mode") == "uefi"

    def identify_seconds(self) -> int | None:
        """``ipmi/identify-duration`` as whole seconds, None when absent."""
        value = self.params.get("ipmi/identify-duration")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise rpc_error("ipmi/identify-duration must be a number of seconds")
        if value < 0:
            raise rpc_error("ipmi/identify-duration must be at least 0")
        return int(value + 0.5)


def _string(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str):
        what = "missing" if value is None else "not a string"
        raise rpc_error(f"{name} is {what}: it must be a string")
    return value


def parse(command: str, params: dict[str, Any]) -> Request:
    """The :class:`Request` of an action, or the Go provider's error for it."""
    mode = params.get("ipmi/mode")
    if not isinstance(mode, str) or mode not in PORTS:
        shown = "<nil>" if mode is None else str(mode)
        raise rpc_error(f"Invalid mode: {shown}", code=404)
    port_param, default = PORTS[mode]
    port = params.get(port_param)
    if port is None:
        port = default
    if isinstance(port, bool) or not isinstance(port, (int, float)) or not 0 <= port <= 65535:
        raise rpc_error(f"{port_param} must be a port number (0-65535)")
    return Request(
        command=command, mode="racadm" if mode == "racadmn" else mode,
        address=_string(params, "ipmi/address"), port=int(port + 0.5),
        username=_string(params, "ipmi/username"), password=_string(params, "ipmi/password"),
        params=params,
    )
