"""Operating the stand-in (issue 13 item 18): ``serve`` echoes uploaded providers' log
lines, ``--state-file`` keeps uploaded providers, and ``drp-plugin plugins create`` /
``drp-plugin machines runaction`` work against an endpoint like drpcli's commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from drp_plugin.standin import StandIn, StandInThread
from drp_plugin.tool import cli
from tests.standin.helpers import serve_credentials

FAKE = Path(__file__).with_name("fake_provider.py")


@pytest.mark.slow
async def test_state_file_keeps_uploaded_providers(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    async with StandIn(state_file=state) as drp:
        async with httpx.AsyncClient(base_url=drp.endpoint + "/api/v3", verify=False,
                                     headers={"Authorization": f"Bearer {drp.token}"},
                                     timeout=60) as client:
            up = await client.post("/plugin_providers/fake", content=FAKE.read_bytes())
            assert up.status_code == 201, up.text
        await drp.create_plugin("fake", "fake")
    saved = json.loads(state.read_text())
    assert saved["_providers"] == [{"Name": "fake", "File": "fake"}]
    async with StandIn(state_file=state) as again:
        plugin = again.get("plugins", "fake")
        assert plugin["PluginErrors"] == [] and "fake" in again.providers.running
        assert await again.run_action("plugins", "fake", "plugin-info") is not None


def test_plugins_create_and_machines_runaction(tmp_path: Path) -> None:
    """drpcli ``plugins create`` / ``machines runaction KEY CMD name value``
    (cli/machines.go ``runaction``), here against the stand-in's endpoint."""
    with StandInThread() as drp:
        drp.add_provider_from_command("fake", [sys.executable, str(FAKE)])
        drp.create("machines", {"Name": "m1"})
        env = {"RS_ENDPOINT": drp.endpoint, "RS_TOKEN": drp.token}
        runner = CliRunner()
        made = runner.invoke(cli, ["plugins", "create", "fake", "--param", "fake/step=2"],
                             env=env)
        assert made.exit_code == 0, made.output
        assert json.loads(made.output)["Provider"] == "fake"
        drp.wait_event(lambda e: e.get("Type") == "plugins" and e.get("Action") == "configed",
                       timeout=60)
        ran = runner.invoke(cli, ["machines", "runaction", "Name:m1", "echo",
                                  "fake/step", "3"], env=env)
        assert ran.exit_code == 0, ran.output
        assert json.loads(ran.output)["Params"]["fake/step"] == 3
        missing = runner.invoke(cli, ["machines", "runaction", "Name:nope", "echo"], env=env)
        assert missing.exit_code == 1
        assert "machines/Name:nope: Not Found" in missing.output
        again = runner.invoke(cli, ["plugins", "create", "fake"], env=env)
        assert again.exit_code == 1 and "CREATE: plugins/fake: already exists" in again.output


@pytest.mark.slow
def test_serve_echoes_uploaded_providers_log_lines(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "drp_plugin.standin.cli", "serve", "--port", "0",
         "--file-port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ})
    lines: list[str] = []
    found = threading.Event()

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "a warning" in line:
                found.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert proc.stdout is not None
        endpoint, token = serve_credentials(proc.stdout)
        with httpx.Client(base_url=endpoint + "/api/v3", verify=False, timeout=60,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            assert client.post("/plugin_providers/fake",
                               content=FAKE.read_bytes()).status_code == 201
            assert client.post("/plugins", json={"Name": "fake", "Provider": "fake"}
                               ).status_code == 201
            machine = client.post("/machines", json={"Name": "m1"}).json()
            assert client.post(f"/machines/{machine['Uuid']}/actions/log",
                               json={}).status_code == 200
        assert found.wait(60), "".join(lines)
        assert any("[fake] warn: a warning" in line for line in lines)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
