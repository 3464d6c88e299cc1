"""The provider as DRP runs it: a process under the stand-in, machines whose params
point at the simulated BMCs (ipmitool and redfish), actions through DRP's REST API;
the password in no log line, no reply and no process listing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from drp_plugin import PluginError
from drp_plugin.testing.fixtures import StandInClient, load_provider

from .conftest import PROVIDER
from .simulators import IpmiSim, SushySim

pytestmark = pytest.mark.slow


def cmdlines() -> str:
    """Every process's command line now (what ``ps`` shows every user)."""
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                out.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                           .decode(errors="replace"))
            except OSError:
                continue
    return "\n".join(out)


def test_both_modes_under_the_standin(standin: Any, provider_env: dict[str, str],
                                      ipmi_bmcs: IpmiSim, redfish_bmc: SushySim,
                                      ipmitool_wrapper: tuple[Path, Path]) -> None:
    with StandInClient(standin) as client:
        plugin = load_provider(standin, client, PROVIDER, params={})
        client.create_machine("rack1-node3", params=ipmi_bmcs.params(3))
        client.create_machine("rack1-node4", params=redfish_bmc.params())
        ipmi_bmcs.set_power(3, False)

        assert plugin.action("powerstatus", on="rack1-node3") == "Chassis Power is off\n"
        assert plugin.action("poweron", on="rack1-node3") == "Chassis Power Control: Up/On\n"
        assert ipmi_bmcs.state(3)["power"] == "1"
        assert plugin.action("nextbootpxe", on="rack1-node3") == "Set Boot Device to pxe\n"
        assert ipmi_bmcs.state(3)["boot"] == "pxe"
        # DRP fills ipmi/identify-duration from its default (60): Go panicked on it
        assert plugin.action("identify", on="rack1-node3") == \
            "Chassis identify interval: 60 seconds\n"
        assert ipmi_bmcs.state(3)["identify"] == "60 0"

        before = redfish_bmc.system()["PowerState"]
        assert plugin.action("powerstatus", on="rack1-node4") == before
        assert plugin.action("poweroff" if before == "On" else "poweron", on="rack1-node4") == "{}"
        redfish_bmc.wait_power("Off" if before == "On" else "On")
        assert plugin.action("nextbootdisk", on="rack1-node4") == {}
        assert redfish_bmc.system()["Boot"]["BootSourceOverrideTarget"] == "Hdd"

        with pytest.raises(PluginError) as failed:
            plugin.action("powerstatus", on="rack1-node4",
                          params={"ipmi/password": "not-the-" + redfish_bmc.password})
        assert failed.value.code == 404
        assert failed.value.messages == ["Unavailable ipmi driver: redfish"]

        listing = cmdlines()
        # log lines reach DRP after the reply: wait for the one this failure sends
        plugin.wait_log("Unable to get connect to redfish: 401")
        logs = "\n".join(plugin.log_messages)
        for secret in (ipmi_bmcs.password, redfish_bmc.password):
            assert secret not in logs
            assert secret not in listing
            assert secret not in str(failed.value)
        assert ipmi_bmcs.password not in ipmitool_wrapper[1].read_text()


@pytest.mark.slow
def test_config_needs_secure_param_upgrade() -> None:
    """As Go's: a dr-provision without the feature is refused (500)."""
    from drp_plugin.standin import StandInThread
    from drp_plugin.testing.inprocess import TestClient

    from .conftest import load_module

    module = load_module()
    with StandInThread() as drp, TestClient(module.provider, environ={
            "RS_ENDPOINT": drp.endpoint, "RS_TOKEN": drp.token}) as client:
        reply = client.config({"Name": "ipmi"})
    # the Go plugin package nests a config error, as JSON, in the answer's Messages
    assert reply.status == 500
    assert [json.loads(m) for m in reply.messages] == [{
        "Model": "plugin", "Key": "ipmi", "Type": "rpc", "Code": 500,
        "Messages": ["dr-provision missing secure-param-upgrade"]}]
