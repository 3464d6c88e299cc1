"""ipmitool mode against ipmi_sim: every action of the Go provider's recording replayed
in order on one simulated BMC, answering byte for byte what Go answered (except where
Go's answer is a bug, listed in DIFFERENCES), the BMC ending in the state Go left it in;
the password never on a command line, in a log line, an error or a reply."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import reference
from .simulators import IpmiSim

pytestmark = pytest.mark.slow  # ~25 ipmitool sessions against a simulator

#: Recorded cases where the Go provider's answer is a bug; what we answer instead.
DIFFERENCES: dict[str, tuple[int, str]] = {
    # Go: 500 "Panic recovered: interface conversion: interface {} is float64, not int"
    "identify[duration=5]": (200, "Chassis identify interval: 5 seconds\n"),
    # Go: the same panic; 0 seconds turns the light off (Redfish mode: IndicatorLED Off)
    "identify[duration=0]": (200, "Chassis identify interval: off\n"),
}
#: Go: 500 "Panic recovered: interface conversion: interface {} is nil, not string";
#: the param is required (define says so), and a required param that is null is
#: answered as DRP answers a missing one, before any BMC is called.
MISSING = {"nextbootpxe[no detected-bios-mode]": "Missing Parameter detected-bios-mode"}
#: Cases replayed elsewhere: no port param is the param's default (port 623, where no
#: simulator listens: see test_request.py), an unknown command never comes from DRP.
SKIPPED = {"powerstatus[no port param]", "nosuchcommand"}
#: What identify left in the BMC, by case (Go's "15 0" for the plain identify).
IDENTIFY_STATE = {"identify[duration=5]": "5 0", "identify[duration=0]": "0 0"}


def params_for(sim: IpmiSim, index: int, override: dict[str, Any]) -> dict[str, Any]:
    params = sim.params(index)
    for key, value in override.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return params


def test_replies_match_go(ipmi_bmcs: IpmiSim, inproc: Any,
                          ipmitool_wrapper: tuple[Path, Path]) -> None:
    recorded = reference("ipmitool-mode-replies.json")
    index = 0
    ipmi_bmcs.set_power(index, False)
    compared = 0
    identify_now: str | None = None  # ours differs from Go's after identify[duration=0]
    for case in recorded["actions"]:
        label = case["label"]
        if label in SKIPPED:
            continue
        reply = inproc.action(case["command"], params_for(ipmi_bmcs, index,
                                                          case["params_override"]))
        if label in MISSING:
            assert (reply.status, reply.messages) == (400, [MISSING[label]]), label
            compared += 1
            continue
        expected = DIFFERENCES.get(label, (case["status"], case["body"]))
        assert (reply.status, reply.body) == expected, label
        compared += 1
        if case["status"] == 200 or label in DIFFERENCES:
            state = ipmi_bmcs.state(index)
            seen = case["observed"]
            if seen["power"] is not None:
                state = ipmi_bmcs.wait_state(index, "power", seen["power"])
            if seen["boot"] is not None:
                assert state["boot"] == seen["boot"], label
            if label in IDENTIFY_STATE:
                identify_now = IDENTIFY_STATE[label]
            elif case["command"] == "identify":
                identify_now = seen["identify"]
            if identify_now is not None:
                assert state["identify"] == identify_now, label
    assert compared == len(recorded["actions"]) - len(SKIPPED)
    # Go's boot sequence: "none" first, then the device; then the two identify calls.
    assert ipmi_bmcs.state(index)["log"][-4:] == ["set boot none", "set boot default",
                                                  "set identify 5 0", "set identify 0 0"]
    assert_no_password(ipmi_bmcs.password, ipmitool_wrapper[1], inproc)


def test_wrong_password_answers_like_go(ipmi_bmcs: IpmiSim, inproc: Any) -> None:
    reply = inproc.action("powerstatus", ipmi_bmcs.params(1, **{"ipmi/password": "wrong-pw-1"}))
    assert reply.status == 404
    assert reply.body["Model"] == "plugin" and reply.body["Key"] == "ipmi"
    assert reply.body["Type"] == ""
    assert reply.messages[0] == "ipmi error: exit status 1"
    assert reply.messages[1].startswith("ipmi out: ")
    assert "Unable to establish IPMI v2 / RMCP+ session" in reply.messages[1]
    assert "wrong-pw-1" not in str(reply.body)


def test_unsupported_actions_and_modes(ipmi_bmcs: IpmiSim, inproc: Any) -> None:
    for command in ("nextbootcd", "status", "getInfo", "getBios", "mountVirtualMedia"):
        params = ipmi_bmcs.params(2, **{"ipmi/virtual-media-url": "http://x/y.iso",
                                        "ipmi/virtual-media-boot": False})
        reply = inproc.action(command, params)
        assert reply.status == 404, command
        assert reply.body == {"Model": "plugin", "Key": "ipmi", "Type": "rpc", "Code": 404,
                              "Messages": [f"Action {command} not supported on ipmi driver: ipmi"]}
    bogus = inproc.action("powerstatus", ipmi_bmcs.params(2, **{"ipmi/mode": "bogus"}))
    assert (bogus.status, bogus.messages) == (404, ["Invalid mode: bogus"])
    for mode in ("racadm", "racadmn", "lpar"):
        reply = inproc.action("powerstatus", ipmi_bmcs.params(2, **{"ipmi/mode": mode}))
        assert reply.status == 501, mode
        assert f"ipmi/mode {mode.rstrip('n') if mode == 'racadmn' else mode}" in reply.messages[0]


def test_bad_param_types_are_400_without_values(ipmi_bmcs: IpmiSim, inproc: Any) -> None:
    reply = inproc.action("identify", ipmi_bmcs.params(2, **{"ipmi/identify-duration": "long"}))
    assert (reply.status, reply.messages) == (
        400, ["ipmi/identify-duration must be a number of seconds"])
    reply = inproc.action("powerstatus", ipmi_bmcs.params(2, **{"ipmi/password": 1234}))
    assert (reply.status, reply.messages) == (400, ["ipmi/password is not a string: it must be a string"])
    reply = inproc.action("powerstatus", ipmi_bmcs.params(2, **{"ipmi/port-ipmitool": "x"}))
    assert reply.status == 400 and "ipmi/port-ipmitool" in reply.messages[0]


def assert_no_password(password: str, cmdlines: Path, client: Any) -> None:
    lines = cmdlines.read_text().splitlines()
    calls = [line for line in lines if line != "password-in-env"]
    assert calls, "the wrapper saw no ipmitool run"
    assert all(" -E " in line and " -P " not in line for line in calls if " -V" not in line)
    assert lines.count("password-in-env") >= len([c for c in calls if " -V" not in c])
    assert password not in cmdlines.read_text()
    for record in client.records:
        assert password not in record.getMessage()
