"""The ``models.Error`` shapes the Go ipmi provider answers with.

Every error of the Go provider is keyed ``plugin``/``ipmi`` (the literal name, not
the Plugin instance's), with ``Type: rpc`` except the ipmitool failures, whose Type
is empty.  No message here ever holds a param's value other than the mode name and
the command: the password and the username stay out of every error.
"""

from __future__ import annotations

from drp_plugin import PluginError

KEY = "ipmi"


def rpc_error(*messages: str, code: int = 400, type: str = "rpc") -> PluginError:
    """``{"Model": "plugin", "Key": "ipmi", "Type": type, "Messages": messages}``."""
    return PluginError(*messages, code=code, model="plugin", key=KEY, type=type)


def unsupported(command: str, driver: str) -> PluginError:
    """Go's 404 for a command the mode's driver does not do."""
    return rpc_error(f"Action {command} not supported on ipmi driver: {driver}", code=404)


def unavailable(driver: str) -> PluginError:
    """Go's 404 when the driver's probe failed (tool missing, BMC unreachable or
    refusing the credentials)."""
    return rpc_error(f"Unavailable ipmi driver: {driver}", code=404)
