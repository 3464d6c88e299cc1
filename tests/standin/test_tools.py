"""StandInThread, the pytest fixtures, and the dev/serve commands."""

from __future__ import annotations

import json
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from drp_plugin.errors import PluginError
from drp_plugin.standin import StandInThread
from drp_plugin.standin.cli import dev
from drp_plugin.standin.targets import parse_target
from drp_plugin.testing.fixtures import ProviderUnderTest, StandInClient

from .conftest import fake_argv

FAKE_COMMAND = shlex.join(fake_argv())


def test_thread_from_sync_code() -> None:
    with StandInThread() as drp:
        machine = drp.create("machines", {"Name": "m1"})
        assert drp.get("machines", "Name:m1")["Uuid"] == machine["Uuid"]
        assert drp.wait_event("machines.create.*", timeout=1)["Key"] == machine["Uuid"]
        resp = httpx.get(f"{drp.endpoint}/api/v3/machines", verify=False,
                         headers={"Authorization": f"Bearer {drp.token}"})
        assert resp.status_code == 200 and len(resp.json()) == 1
        drp.drop_websockets()
        root = drp.standin.root
    assert not root.exists()


def test_thread_start_failure_is_raised() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(OSError), StandInThread(api_port=busy.getsockname()[1]):
            pass


def test_fixtures(drp_provider: Callable[..., ProviderUnderTest],
                  drp_client: StandInClient) -> None:
    fake = drp_provider(fake_argv(), params={"fake/greeting": "hi"})
    assert fake.name == "fake" and fake.plugin_name == "fake"
    drp_client.create_machine("m1")
    assert fake.action("config", on="m1")["fake/greeting"] == "hi"
    fake.action("publish", on="m1")
    assert [e["Action"] for e in fake.published] == ["ping"]
    assert fake.wait_log("config keys").plugin == "fake"
    fake.restart({"fake/greeting": "yo"})
    assert fake.action("config", on="m1")["fake/greeting"] == "yo"
    with pytest.raises(PluginError) as info:
        fake.action("fail", on="m1")
    assert info.value.code == 418 and info.value.type == "INVOKE"


@pytest.mark.slow
def test_dev_runs_one_action(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("profiles:\n- Name: p1\n  Params: {fake/step: 3}\n"
                    "machines:\n- Name: m1\n  Profiles: [p1]\n- Name: m2\n")
    runner = CliRunner()
    result = runner.invoke(dev, [FAKE_COMMAND, "--seed", str(seed), "--action", "echo",
                                 "--on", "m1", "--param", "x=[1, 2]", "--param", "y=text",
                                 "--plugin-param", "fake/greeting=hi", "--quiet"])
    assert result.exit_code == 0, result.output
    action = json.loads(result.stdout)
    assert action["Params"] == {"x": [1, 2], "y": "text", "fake/step": 3,
                                "fake/greeting": "hello"}
    assert action["Model"]["Name"] == "m1"
    failed = runner.invoke(dev, [FAKE_COMMAND, "--seed", str(seed), "--action", "need",
                                 "--on", "machines/Name:m2", "--quiet"])
    assert failed.exit_code == 1 and "Missing Parameter fake/step" in failed.stderr
    system = runner.invoke(dev, [FAKE_COMMAND, "--action", "status", "--plugin-name", "f2",
                                 "--quiet"])
    assert system.exit_code == 0 and json.loads(system.stdout) == "Running f2"


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "drp_plugin.standin.cli", *args],  # noqa: S603
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_dev_stays_up_until_sigterm() -> None:
    proc = _spawn("dev", FAKE_COMMAND)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "Ctrl-C stops it" in line:
            break
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=30)
    assert proc.returncode == 0, rest
    assert "stop body: null" in rest


@pytest.mark.slow
def test_serve() -> None:
    proc = _spawn("serve", "--port", "0", "--file-port", "0", "--user", "me:pw")
    assert proc.stdout is not None
    proc.stdout.readline()
    exports = dict(item.split("=", 1) for item in proc.stdout.readline().split()[1:])
    try:
        resp = httpx.get(f"{exports['RS_ENDPOINT']}/api/v3/info", verify=False,
                         headers={"Authorization": f"Bearer {exports['RS_TOKEN']}"})
        assert resp.status_code == 200
        basic = httpx.get(f"{exports['RS_ENDPOINT']}/api/v3/users/me/token", verify=False,
                          auth=("me", "pw"))
        assert basic.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


@pytest.mark.parametrize(("on", "expected"), [
    (None, ("", "")),
    ("m1", ("machines", "Name:m1")),
    ("Name:demo", ("machines", "Name:demo")),
    ("24679e38-53a2-4a82-99dd-5280139de00c",
     ("machines", "24679e38-53a2-4a82-99dd-5280139de00c")),
    ("typed-cows/bertie", ("typed-cows", "bertie")),
    ({"Uuid": "u"}, ("machines", "u")),
    ({"Type": "cows", "Id": "c"}, ("cows", "c")),
])
def test_parse_target(on: object, expected: tuple[str, str]) -> None:
    assert parse_target(on) == expected
