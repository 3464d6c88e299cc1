"""Provider lifecycle: upload, define, unpack, content, plugins, stop, leaving.

The peer is ``fake_provider.py``: a stdlib-only provider speaking docs/protocol.md.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from drp_plugin.errors import PluginError
from drp_plugin.standin import StandIn

from .conftest import FAKE, fake_argv


def _events(drp: StandIn, type: str, action: str) -> list[dict[str, Any]]:
    return [e for e in drp.events if (e["Type"], e["Action"]) == (type, action)]


async def _until(check: Any, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def test_upload_define_unpack_content(drp: StandIn, client: httpx.AsyncClient) -> None:
    resp = await client.post("/plugin_providers/fake", content=FAKE.read_bytes(),
                             headers={"Content-Type": "application/octet-stream"})
    assert resp.status_code == 201, resp.text
    assert resp.json() == {"path": "fake", "size": FAKE.stat().st_size}
    provider = (await client.get("/plugin_providers/fake")).json()
    assert "Content" not in provider
    assert provider["Meta"]["Type"] == "plugin" and provider["Meta"]["Name"] == "fake"
    assert provider["Meta"]["Version"] == "v1.2.3"
    assert provider["Meta"]["Description"] == "fake provider"
    # as the definition gives them until a plugin of the provider runs (DRP recorded
    # TestLoadIncrementer: "Provider": "" and null lists right after the upload)
    assert {a["Provider"] for a in provider["AvailableActions"]} == {""}
    assert provider["AvailableActions"][1]["OptionalParams"] is None
    step = (await client.get("/params/fake/step")).json()
    assert step["ReadOnly"] and step["Bundle"] == "fake"
    assert (await client.get("/fake-cows/daisy")).json()["Spotted"] is True
    assert "fake-cows" in (await client.get("/objects")).json()
    assert (await client.get("/plugin_providers/fake/binary")).content == FAKE.read_bytes()
    async with httpx.AsyncClient() as plain:
        unpacked = await plain.get(f"{drp.fileserver}/files/plugin_providers/fake/hello.txt")
    assert unpacked.text == "hello from fake\n"
    assert drp.get("tasks", "t1")["ReadOnly"] is True   # tasks are stored content now
    assert any(r.source == "unpack" for r in drp.logs)
    # content is read-only; plugin-defined objects are validated
    assert (await client.put("/params/fake/step", json=step)).status_code == 403
    bad = await client.post("/fake-cows", json={"Id": "x", "Location": "here"})
    assert bad.status_code == 422 and bad.json()["Type"] == "ValidationError"
    wrong = await client.post("/fake-cows", json={"Id": "x", "Spotted": True, "Type": "cows"})
    assert wrong.status_code == 422
    good = await client.post("/fake-cows", json={"Id": "x", "Spotted": False})
    assert good.status_code == 201 and good.json()["Type"] == "fake-cows"


@pytest.mark.parametrize(("variant", "name", "message"), [
    ("stderr-define", "fake", "not valid JSON"),
    ("bad-version", "fake", "PluginVersion must be 4"),
    ("ok", "other", "define gave Name 'fake', uploaded as 'other'"),
    ("bad-unpack", "fake", "unpack failed with status 2: cannot unpack"),
])
async def test_rejected_providers(drp: StandIn, variant: str, name: str, message: str) -> None:
    argv = fake_argv(variant)
    with pytest.raises(PluginError) as info:
        await drp.add_provider_from_command(name, argv)
    assert info.value.code == 400 and message in str(info.value)
    assert not drp.store.data["plugin_providers"] and "fake-cows" not in drp.store.types
    assert drp.store.find("params", "fake/step") is None


async def test_invalid_content_is_rolled_back(drp: StandIn) -> None:
    with pytest.raises(PluginError) as info:
        await drp.add_provider_from_command("fake", fake_argv("bad-content"))
    assert info.value.code == 422 and "Spotted" in str(info.value)
    assert "fake-cows" not in drp.store.types and not drp.providers.providers


async def test_content_conflicts(drp: StandIn) -> None:
    await drp.create("params", {"Name": "fake/step"})
    with pytest.raises(PluginError) as info:
        await drp.add_provider_from_command("fake", fake_argv())
    assert info.value.code == 409 and "replaceWritable" in str(info.value)
    await drp.add_provider_from_command("fake", fake_argv(), replace_writable=True)
    assert drp.store.find("params", "fake/step")["ReadOnly"] is True


async def test_plugin_lifecycle(drp: StandIn, client: httpx.AsyncClient) -> None:
    await drp.add_provider_from_command("fake", fake_argv())
    resp = await client.post("/plugins", json={"Name": "fake", "Provider": "fake"})
    assert resp.status_code == 201 and resp.json()["PluginErrors"] == []
    assert _events(drp, "plugins", "configed")[-1]["Key"] == "fake"
    # a plugin runs: its actions are registered, the provider's entries filled
    actions = (await client.get("/plugin_providers/fake")).json()["AvailableActions"]
    assert {a["Provider"] for a in actions} == {"fake"}
    assert all(isinstance(a["RequiredParams"], list) and isinstance(a["OptionalParams"], list)
               for a in actions)
    messages = [r.message for r in drp.logs if r.plugin == "fake"]
    assert "fake provider starting" in messages  # stdout before READY!
    assert "config keys: ['Name', 'fake/greeting']" in messages  # default filled
    await _until(lambda: any(r.source == "stderr" for r in drp.logs))
    machine = (await client.post("/machines", json={"Name": "m1"})).json()
    config = (await client.post(f"/machines/{machine['Uuid']}/actions/config")).json()
    assert config == {"Name": "fake", "fake/greeting": "hello"}
    # a Params change restarts the plugin with the new config
    patched = await client.patch("/plugins/fake", json=[
        {"op": "add", "path": "/Params/fake~1greeting", "value": "bonjour"}])
    assert patched.status_code == 200 and patched.json()["PluginErrors"] == []
    assert len(_events(drp, "plugins", "stopped")) == 1
    assert len(_events(drp, "plugins", "configed")) == 2
    config = (await client.post(f"/machines/{machine['Uuid']}/actions/config")).json()
    assert config["fake/greeting"] == "bonjour"
    # delete stops it with /stop and a body of null
    assert (await client.delete("/plugins/fake")).status_code == 200
    assert _events(drp, "plugins", "stopped")[-1]["Key"] == "fake"
    assert "stop body: null type: application/json" in [r.message for r in drp.logs]
    assert (await client.post(f"/machines/{machine['Uuid']}/actions/config")).status_code == 404
    assert not list((drp.root / "s").iterdir())  # both sockets are gone


async def test_required_params_and_secure_config(drp: StandIn) -> None:
    await drp.add_provider_from_command("fake", fake_argv("needs-secret"))
    plugin = await drp.create_plugin("fake", "fake", check=False)
    assert plugin["PluginErrors"] == ["Missing required parameter fake/secret"]
    assert "fake" not in drp.providers.running
    with pytest.raises(PluginError):
        await drp.create_plugin("fake2", "fake")
    updated = await drp.service.replace(
        "plugins", "fake", {"Name": "fake", "Provider": "fake", "Params": {"fake/secret": "s3"}},
        "rocketskates")
    assert updated["PluginErrors"] == []
    config = await drp.run_action("", "", "status")
    assert config == "Running fake"
    assert drp.providers.running["fake"]
    assert "fake/secret" in next(r.message for r in drp.logs if "config keys" in r.message
                                 and "fake/secret" in r.message)


@pytest.mark.parametrize(("variant", "error"), [
    ("failed", "printed Failed"),
    ("crash-listen", "exited with status 3 before READY!"),
    ("config-500", "config exploded"),
])
async def test_start_failures_land_in_plugin_errors(drp: StandIn, variant: str,
                                                    error: str) -> None:
    await drp.add_provider_from_command("fake", fake_argv(variant))
    plugin = await drp.create_plugin("fake", "fake", check=False)
    assert len(plugin["PluginErrors"]) == 1 and error in plugin["PluginErrors"][0]
    assert plugin["Available"] is False and "fake" not in drp.providers.running
    assert not _events(drp, "plugins", "configed")
    if variant == "crash-listen":
        await _until(lambda: any(r.message == "cannot start" for r in drp.logs))


async def test_config_403_removes_provider(drp: StandIn) -> None:
    await drp.add_provider_from_command("fake", fake_argv("config-403"))
    plugin = await drp.create_plugin("fake", "fake", check=False)
    assert "not licensed" in plugin["PluginErrors"][0]
    await _until(lambda: drp.store.find("plugin_providers", "fake") is None)
    assert drp.store.find("params", "fake/step") is None


async def test_leaving(drp: StandIn, fake: dict[str, Any], machine: dict[str, Any]) -> None:
    assert await drp.run_action("machines", machine["Uuid"], "leave") == "leaving"
    await _until(lambda: bool(drp.get("plugins", "fake")["PluginErrors"]))
    assert "fake" not in drp.providers.running
    assert "Plugin left" in drp.get("plugins", "fake")["PluginErrors"][0]
    assert "fake" in drp.providers.providers
    await drp.service.replace("plugins", "fake", {"Name": "fake", "Provider": "fake",
                                                  "Params": {"fake/code": 1}}, "x")
    assert "fake" in drp.providers.running
    await drp.run_action("machines", machine["Uuid"], "leave", {"fake/code": 403})
    await _until(lambda: drp.get("plugins", "fake")["PluginErrors"]
                 == ["Missing Plugin Provider: fake"])
    assert "fake" not in drp.providers.providers


async def test_unexpected_exit(drp: StandIn, fake: dict[str, Any]) -> None:
    proc = drp.providers.running["fake"].process.proc
    assert proc is not None
    proc.kill()
    await _until(lambda: "fake" not in drp.providers.running)
    await _until(lambda: bool(drp.get("plugins", "fake")["PluginErrors"]))
    assert drp.get("plugins", "fake")["PluginErrors"] == ["Plugin exited with status -9"]
    assert _events(drp, "plugins", "stopped")


@pytest.mark.slow
async def test_autostart_replace_and_delete(drp: StandIn, client: httpx.AsyncClient) -> None:
    await drp.add_provider_from_command("fake", fake_argv("autostart"))
    assert drp.get("plugins", "fake")["Provider"] == "fake"
    assert "fake" in drp.providers.running
    await drp.add_provider_from_command("fake", fake_argv("autostart"))  # replaced: restarted
    assert len(_events(drp, "plugins", "configed")) == 2
    assert "fake" in drp.providers.running
    assert (await client.delete("/plugin_providers/fake")).status_code == 200
    assert "fake" not in drp.providers.running
    assert drp.get("plugins", "fake")["PluginErrors"] == ["Missing Plugin Provider: fake"]
    assert (await client.get("/fake-cows")).status_code == 404
    assert (await client.get("/params/fake/step")).status_code == 404
    assert not (drp.webroot / "files" / "plugin_providers" / "fake").exists()


async def test_stop_while_plugin_is_leaving() -> None:
    async with StandIn() as drp:
        await drp.add_provider_from_command("fake", fake_argv())
        await drp.create_plugin("fake", "fake")
        machine = await drp.create("machines", {"Name": "m1"})
        proc = drp.providers.running["fake"].process.proc
        await drp.run_action("machines", machine["Uuid"], "leave", {"fake/code": 403})
        root = drp.root
    assert proc is not None and proc.returncode is not None
    assert not root.exists()
