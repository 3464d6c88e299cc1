"""Param reading and the ipmitool command line, without any BMC: the Go provider's
panics (no port param, a numeric identify duration) become what the operator meant."""

from __future__ import annotations

import pytest

from drp_plugin import PluginError

from .conftest import load_module

load_module()  # puts providers/ipmi on sys.path

from ipmi_core import ipmitool  # noqa: E402
from ipmi_core.request import parse  # noqa: E402
from ipmi_core.settings import SettingError, load  # noqa: E402

BASE = {"ipmi/mode": "ipmitool", "ipmi/address": "10.0.0.9", "ipmi/username": "root",
        "ipmi/password": "pw-not-on-argv"}


def test_missing_port_is_the_default() -> None:
    req = parse("powerstatus", dict(BASE))  # Go: 500 interface {} is nil, not float64
    assert req.port == 0
    args = ipmitool.argv(load({}), req, ["chassis", "power", "status"])
    assert args == ["ipmitool", "-I", "lanplus", "-H", "10.0.0.9", "-U", "root", "-E",
                    "chassis", "power", "status"]
    assert parse("powerstatus", {**BASE, "ipmi/mode": "redfish"}).port == 443
    assert parse("powerstatus", {**BASE, "ipmi/mode": "lpar"}).port == 12443
    assert parse("powerstatus", {**BASE, "ipmi/port-ipmitool": 6230.4}).port == 6230
    assert parse("powerstatus", {**BASE, "ipmi/mode": "racadmn"}).mode == "racadm"
    assert "pw-not-on-argv" not in repr(parse("powerstatus", dict(BASE)))


def test_identify_and_boot_commands() -> None:
    def cmds(command: str, **params: object) -> list[list[str]] | None:
        found: list[list[str]] | None = ipmitool.commands(parse(command, {**BASE, **params}))
        return found

    assert cmds("identify") == [["chassis", "identify", "15"]]
    assert cmds("identify", **{"ipmi/identify-duration": 60.0}) == [["chassis", "identify", "60"]]
    assert cmds("identify", **{"ipmi/identify-duration": 0}) == [["chassis", "identify", "0"]]
    with pytest.raises(PluginError, match="at least 0"):
        cmds("identify", **{"ipmi/identify-duration": -1})
    uefi = cmds("forcebootdisk", **{"detected-bios-mode": "uefi"})
    assert uefi is not None and uefi[1] == ["raw", "0x00", "0x08", "0x05", "0xe0", "0x08",
                                            "0x00", "0x00", "0x00"]
    assert cmds("nextbootpxe", **{"detected-bios-mode": "uefi"}) == [
        ipmitool._BOOT_OPTIONS, ["chassis", "bootdev", "pxe", "options=efiboot"]]
    assert cmds("nextbootpxe") == [ipmitool._BOOT_OPTIONS, ["chassis", "bootdev", "pxe"]]
    assert cmds("nextbootcd") is None


def test_settings() -> None:
    s = load({"DRP_IPMI_TIMEOUT": "5", "DRP_IPMI_CIPHER_SUITE": "17"})
    assert (s.timeout, s.cipher_suite, s.output_limit) == (5.0, "17", 1024 * 1024)
    for bad in ({"DRP_IPMI_TIMEOUT": "soon"}, {"DRP_IPMI_CIPHER_SUITE": "x"},
                {"DRP_IPMI_OUTPUT_LIMIT": "0"}, {"DRP_IPMI_TIMEOUT": "nan"}):
        with pytest.raises(SettingError, match=next(iter(bad))):
            load(bad)
    env = ipmitool.child_env("pw")
    assert env["IPMI_PASSWORD"] == "pw" and not any(k.startswith("RS_") for k in env)
