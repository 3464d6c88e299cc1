"""The provider's own settings: environment variables of the provider process
(DRP passes its environment to the plugins it starts), checked on every config.

The Go provider has no such settings (no timeout at all: a BMC that never answers
holds its action, and an ``ipmitool`` process, for ever).  The plugin params stay
exactly the Go provider's, so that ``define`` is the same.

| variable | default | what |
|---|---|---|
| ``DRP_IPMI_TIMEOUT`` | 60 s | one ``ipmitool`` run, one Redfish request; on expiry the child is killed |
| ``DRP_IPMI_OUTPUT_LIMIT`` | 1 MiB | bytes of ``ipmitool`` output kept (the rest is counted, dropped) |
| ``DRP_IPMI_MAX_CHILDREN`` | 256 | ``ipmitool`` processes running at once (more wait their turn) |
| ``DRP_IPMI_IPMITOOL`` | ``ipmitool`` | the ipmitool binary (a name looked up on ``PATH``, or a path) |
| ``DRP_IPMI_CIPHER_SUITE`` | unset | ``-C <n>`` for ipmitool; unset: ipmitool asks the BMC, as Go's calls do |
| ``DRP_IPMI_REDFISH_MAX_BODY`` | 16 MiB | bytes of one Redfish answer read; past it the action fails |
| ``DRP_IPMI_REDFISH_CONNECTIONS`` | 256 | open HTTPS connections to BMCs at once |
| ``DRP_IPMI_POWER_WAIT`` | 60 s | Redfish ``powercycle`` without a cycle reset type: how long to wait for Off |
"""

from __future__ import annotations

import os
from dataclasses import dataclass

MIB = 1024 * 1024


class SettingError(ValueError):
    """A setting that is not valid; the message names it and says what it takes."""


@dataclass(frozen=True)
class Settings:
    timeout: float = 60.0
    output_limit: int = MIB
    max_children: int = 256
    ipmitool: str = "ipmitool"
    cipher_suite: str | None = None
    redfish_max_body: int = 16 * MIB
    redfish_connections: int = 256
    power_wait: float = 60.0


def _number(env: dict[str, str], name: str, default: float, minimum: float,
            integer: bool) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "an integer" if integer else "a number of seconds"
        raise SettingError(f"{name}={raw!r} is not valid: it must be {kind}") from None
    if value != value or value < minimum or value == float("inf"):  # NaN, too small, inf
        raise SettingError(f"{name}={raw!r} is not valid: it must be at least {minimum:g}")
    return value


def load(env: dict[str, str] | None = None) -> Settings:
    """The settings from ``env`` (default: ``os.environ``); raises :class:`SettingError`."""
    env = dict(os.environ if env is None else env)
    suite = env.get("DRP_IPMI_CIPHER_SUITE", "").strip() or None
    if suite is not None and not (suite.isdigit() and 0 <= int(suite) <= 255):
        raise SettingError(f"DRP_IPMI_CIPHER_SUITE={suite!r} is not valid: it must be a "
                           "cipher suite number (0-255), e.g. 3 or 17")
    tool = env.get("DRP_IPMI_IPMITOOL", "").strip() or "ipmitool"
    return Settings(
        timeout=_number(env, "DRP_IPMI_TIMEOUT", 60.0, 0.001, False),
        output_limit=int(_number(env, "DRP_IPMI_OUTPUT_LIMIT", MIB, 1, True)),
        max_children=int(_number(env, "DRP_IPMI_MAX_CHILDREN", 256, 1, True)),
        ipmitool=tool,
        cipher_suite=suite,
        redfish_max_body=int(_number(env, "DRP_IPMI_REDFISH_MAX_BODY", 16 * MIB, 1, True)),
        redfish_connections=int(_number(env, "DRP_IPMI_REDFISH_CONNECTIONS", 256, 1, True)),
        power_wait=_number(env, "DRP_IPMI_POWER_WAIT", 60.0, 0, False),
    )
