"""Actions through the REST API, served by the stdlib fake provider."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from drp_plugin.standin import StandIn
from drp_plugin.standin.secure import is_envelope

from .conftest import fake_argv


async def _run(client: httpx.AsyncClient, path: str, body: Any = None,
               **query: str) -> httpx.Response:
    return await client.post(path, json=body if body is not None else {}, params=query or None)


async def test_listing(client: httpx.AsyncClient, fake: dict[str, Any],
                       machine: dict[str, Any]) -> None:
    listed = (await client.get(f"/machines/{machine['Uuid']}/actions")).json()
    assert "echo" in {a["Command"] for a in listed}
    assert {a["Provider"] for a in listed} == {"fake"} and {a["Model"] for a in listed} == {
        "machines"}
    # "need" requires fake/step: offered only once the machine has it (recorded
    # TestMachineCli, reset_count and incrementer/touched)
    assert "need" not in {a["Command"] for a in listed}
    missing = await client.get(f"/machines/{machine['Uuid']}/actions/need")
    assert missing.status_code == 400
    await client.post(f"/machines/{machine['Uuid']}/params/fake/step", json=1)
    one = (await client.get(f"/machines/{machine['Uuid']}/actions/need")).json()
    assert one["RequiredParams"] == ["fake/step"]
    assert [a["Command"] for a in (await client.get("/system/actions")).json()] == ["status"]
    assert [a["Command"] for a in (await client.get("/plugins/fake/actions")).json()] == [
        "plugin-info"]
    assert (await client.get("/machines/nope/actions")).status_code == 404


async def test_params_are_filled_and_checked(client: httpx.AsyncClient, fake: dict[str, Any],
                                             drp: StandIn) -> None:
    await client.put("/profiles/global", json={"Name": "global",
                                               "Params": {"fake/secret": "from-global"}})
    await client.post("/profiles", json={"Name": "p1", "Params": {"fake/step": 5}})
    m1 = (await client.post("/machines", json={"Name": "m1", "Profiles": ["p1"]})).json()
    base = f"/machines/{m1['Uuid']}/actions"
    resp = await _run(client, f"{base}/echo", {"extra": True})
    assert resp.status_code == 200, resp.text
    action = resp.json()
    assert action["Command"] == "echo" and action["Plugin"] == "fake"
    assert action["CommandSet"] == ""
    assert action["Model"]["Uuid"] == m1["Uuid"]
    assert action["Params"] == {"extra": True, "fake/step": 5, "fake/greeting": "hello",
                                "fake/secret": "from-global"}
    given = (await _run(client, f"{base}/echo", {"fake/step": 9})).json()
    assert given["Params"]["fake/step"] == 9
    invalid = await _run(client, f"{base}/echo", {"fake/step": "nine"})
    # recorded (TestMachineCli): "INVOKE: machines/<uuid>: Action increment: Invalid
    # Parameter: incrementer/step: : (root): Invalid type. Expected: integer, given: string"
    assert invalid.status_code == 422 and invalid.json()["Type"] == "INVOKE"
    assert invalid.json()["Messages"] == [
        "Action echo: Invalid Parameter: fake/step: : (root): Invalid type. Expected: "
        "integer, given: string"]
    # required param: missing unless the target (or its profiles, or a default) has it
    m2 = (await client.post("/machines", json={"Name": "m2"})).json()
    missing = await _run(client, f"/machines/{m2['Uuid']}/actions/need")
    assert missing.status_code == 400
    assert missing.json()["Messages"] == ["Action need Missing Parameter fake/step"]
    assert (await _run(client, f"{base}/need")).json()["Params"] == {"fake/step": 5}
    # secure values reach the plugin decoded, the Model shows them sealed
    await client.post(f"/machines/{m1['Uuid']}/params/fake/secret", json="own")
    action = (await _run(client, f"{base}/echo")).json()
    assert action["Params"]["fake/secret"] == "own"
    assert is_envelope(action["Model"]["Params"]["fake/secret"])


async def test_error_replies(client: httpx.AsyncClient, fake: dict[str, Any],
                             machine: dict[str, Any]) -> None:
    base = f"/machines/{machine['Uuid']}/actions"
    failed = await _run(client, f"{base}/fail")
    assert failed.status_code == 418
    assert failed.json() == {"Model": "machines", "Key": "k", "Type": "INVOKE",
                             "Messages": ["it failed"], "Code": 418}
    for cmd in ("empty", "text"):
        resp = await _run(client, f"{base}/{cmd}")
        assert resp.status_code == 409 and resp.json()["Type"] == "INVOKE", cmd
    assert (await _run(client, f"{base}/nope")).status_code == 404
    assert (await _run(client, f"{base}/echo", plugin="other")).status_code == 404
    assert (await _run(client, f"{base}/echo", plugin="fake")).status_code == 200
    assert (await client.post(f"{base}/echo", json=[1])).status_code == 400


async def test_system_plugin_and_custom_type_actions(client: httpx.AsyncClient,
                                                     fake: dict[str, Any]) -> None:
    assert (await _run(client, "/system/actions/status")).json() == "Running fake"
    info = (await _run(client, "/plugins/fake/actions/plugin-info")).json()
    assert info["Model"]["Name"] == "fake" and info["Model"]["Provider"] == "fake"
    poke = (await _run(client, "/fake-cows/daisy/actions/poke")).json()
    assert poke["Model"]["Id"] == "daisy" and poke["Model"]["Type"] == "fake-cows"


async def test_publish_log_and_api_calls(client: httpx.AsyncClient, fake: dict[str, Any],
                                         machine: dict[str, Any], drp: StandIn) -> None:
    base = f"/machines/{machine['Uuid']}/actions"
    assert (await _run(client, f"{base}/publish")).json() == "published"
    event = await drp.wait_event(f"fake.ping.{machine['Uuid']}", timeout=2)
    assert event["Object"] == {"n": 1}
    assert drp.published["fake"] == [event]
    assert (await _run(client, f"{base}/log")).json() == [204, 204, 204]
    levels = {r.message: r.level for r in drp.logs if r.source == "log"}
    assert levels["a warning"] == "warn" and levels["numeric error"] == "error"
    assert levels["quiet line"] == "debug"
    log_events = [e for e in drp.events if e["Type"] == "log"]
    assert "quiet line" not in [e["Object"]["Message"] for e in log_events]  # IgnorePublish
    assert {"warn", "error"} <= {e["Action"] for e in log_events}
    # the plugin reaches the REST API with its RS_ENDPOINT and RS_TOKEN
    assert (await _run(client, f"{base}/api")).json() == "m1"


async def test_concurrent_actions(client: httpx.AsyncClient, fake: dict[str, Any],
                                  machine: dict[str, Any]) -> None:
    base = f"/machines/{machine['Uuid']}/actions/echo"
    replies = await asyncio.gather(*[_run(client, base, {"n": i}) for i in range(20)])
    assert [r.json()["Params"]["n"] for r in replies] == list(range(20))


async def test_has_publish_plugins_get_events(drp: StandIn, client: httpx.AsyncClient) -> None:
    await drp.add_provider_from_command("fake", fake_argv("publisher"))
    await drp.create_plugin("fake", "fake")
    m1 = (await client.post("/machines", json={"Name": "m1"})).json()
    await _run(client, f"/machines/{m1['Uuid']}/actions/log")
    await client.post("/profiles", json={"Name": "p1"})
    for _ in range(100):
        received = (await _run(client, f"/machines/{m1['Uuid']}/actions/received")).json()
        if "profiles.create.p1" in received:
            break
        await asyncio.sleep(0.02)
    assert received[received.index(f"machines.create.{m1['Uuid']}"):] == [
        f"machines.create.{m1['Uuid']}", "profiles.create.p1"]
    assert not [topic for topic in received if topic.startswith("log.")]
