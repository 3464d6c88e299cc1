"""Both API clients against the local DRP stand-in (real HTTPS, self-signed)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from drp_plugin.api import (
    APIError,
    AsyncClient,
    Between,
    Client,
    Eq,
    Except,
    Gt,
    Gte,
    In,
    Lt,
    Lte,
    Ne,
    Nin,
    Re,
)
from drp_plugin.standin import StandIn

from .conftest import Api

INCREMENTER = Path(__file__).resolve().parents[2] / "examples" / "incrementer" / "incrementer.py"


async def test_info_and_objects(api: Api, drp: StandIn) -> None:
    info = await api.info()
    assert info["api_port"] == drp.api_port
    assert {"machines", "params", "profiles", "plugins"} <= set(await api.objects())


async def test_crud_round_trip(api: Api) -> None:
    created = await api.create("profiles", {"Name": "p1", "Description": "one"})
    assert (created["Name"], created["Description"]) == ("p1", "one")
    assert await api.exists("profiles", "p1") is True
    assert (await api.get("profiles", "p1"))["Description"] == "one"
    replaced = await api.put("profiles", "p1", {**created, "Description": "two"})
    assert replaced["Description"] == "two"
    patched = await api.patch("profiles", "p1", [{"op": "replace", "path": "/Description", "value": "3"}])
    assert patched["Description"] == "3"
    assert (await api.delete("profiles", "p1"))["Name"] == "p1"
    assert await api.exists("profiles", "p1") is False
    with pytest.raises(APIError) as caught:
        await api.get("profiles", "p1")
    error = caught.value
    assert (error.code, error.http_status, error.model, error.key) == (404, 404, "profiles", "p1")
    assert str(error) == "GET: profiles/p1: Not Found"


async def test_index_lookup_keys(api: Api) -> None:
    machine = await api.create("machines", {"Name": "m1.example.com"})
    assert (await api.get("machines", "Name:m1.example.com"))["Uuid"] == machine["Uuid"]
    assert await api.exists("machines", "Name:m1.example.com") is True
    assert await api.exists("machines", "Name:m2.example.com") is False


async def test_validation_and_conflict_errors(api: Api) -> None:
    await api.create("profiles", {"Name": "p"})
    with pytest.raises(APIError) as duplicate:
        await api.create("profiles", {"Name": "p"})
    assert duplicate.value.code == 409
    with pytest.raises(APIError) as invalid:
        await api.create("machines", {"Name": "m", "Profiles": ["no-such-profile"]})
    assert (invalid.value.code, invalid.value.type) == (422, "ValidationError")
    assert str(invalid.value).startswith("ValidationError: machines/")


async def test_a_failed_test_op_is_a_409_and_changes_nothing(api: Api) -> None:
    await api.create("profiles", {"Name": "p", "Description": "d"})
    with pytest.raises(APIError) as caught:
        await api.patch("profiles", "p", [
            {"op": "test", "path": "/Description", "value": "not d"},
            {"op": "replace", "path": "/Description", "value": "x"},
        ])
    assert caught.value.code == 409
    assert (await api.get("profiles", "p"))["Description"] == "d"


async def test_patch_to_guards_against_concurrent_changes(api: Api) -> None:
    old = await api.create("profiles", {"Name": "p", "Description": "d", "Documentation": "doc"})
    await api.patch("profiles", "p", [{"op": "replace", "path": "/Description", "value": "theirs"}])
    mine = {**old, "Description": "mine"}
    with pytest.raises(APIError) as caught:
        await api.patch_to("profiles", "p", old, mine)
    assert caught.value.code == 409
    assert (await api.get("profiles", "p"))["Description"] == "theirs"
    assert (await api.patch_to("profiles", "p", old, mine, guard=False))["Description"] == "mine"
    fresh = await api.get("profiles", "p")
    changed = await api.patch_to("profiles", "p", fresh, {**fresh, "Documentation": "new"})
    assert (changed["Description"], changed["Documentation"]) == ("mine", "new")


async def test_params_of_any_object(api: Api) -> None:
    await api.create("profiles", {"Name": "p"})
    odd = "odd/name~with/slashes"
    assert await api.set_param("profiles", "p", odd, {"a": 1}) == {"a": 1}
    assert await api.get_param("profiles", "p", odd) == {"a": 1}
    assert await api.get_param("profiles", "p", "never/set") is None
    assert await api.get_params("profiles", "p") == {odd: {"a": 1}}

    assert (await api.add_param("profiles", "p", "a/b", 1))["a/b"] == 1
    assert (await api.replace_param("profiles", "p", "a/b", 2, expected=1))["a/b"] == 2
    with pytest.raises(APIError) as stale:
        await api.replace_param("profiles", "p", "a/b", 3, expected=1)
    assert stale.value.code == 409
    with pytest.raises(APIError):
        await api.remove_param("profiles", "p", odd, expected={"a": 2})
    assert await api.remove_param("profiles", "p", "a/b", expected=2) == {odd: {"a": 1}}
    assert await api.patch_params("profiles", "p", [
        {"op": "test", "path": "/odd~1name~0with~1slashes", "value": {"a": 1}},
        {"op": "add", "path": "/odd~1name~0with~1slashes/b", "value": 2},
    ]) == {odd: {"a": 1, "b": 2}}

    assert await api.delete_param("profiles", "p", odd) == {"a": 1, "b": 2}
    assert await api.set_params("profiles", "p", {"x/y": True, "z": [1]}) == {"x/y": True, "z": [1]}
    assert (await api.get("profiles", "p"))["Params"] == {"x/y": True, "z": [1]}


async def test_aggregated_and_decoded_params(api: Api) -> None:
    await api.create("params", {"Name": "secret/word", "Secure": True, "Schema": {"type": "string"}})
    await api.create("params", {"Name": "with/default", "Schema": {"type": "integer", "default": 5}})
    await api.create("profiles", {"Name": "p", "Params": {"inherited/value": 7}})
    uuid = (await api.create("machines", {"Name": "m", "Profiles": ["p"]}))["Uuid"]
    assert await api.get_param("machines", uuid, "inherited/value") is None
    assert await api.get_param("machines", uuid, "inherited/value", aggregate=True) == 7
    assert await api.get_param("machines", uuid, "with/default", aggregate=True) == 5
    assert (await api.get_params("machines", uuid, aggregate=True))["inherited/value"] == 7

    await api.set_param("machines", uuid, "secret/word", "swordfish")
    sealed = await api.get_param("machines", uuid, "secret/word")
    assert sealed != "swordfish"
    assert await api.get_param("machines", uuid, "secret/word", decode=True) == "swordfish"
    assert (await api.get_params("machines", uuid, decode=True))["secret/word"] == "swordfish"


async def test_list_filters_sort_and_paging(api: Api) -> None:
    for n in range(6):
        await api.create("machines", {"Name": f"node-{n}", "Arch": "amd64" if n % 2 else "arm64"})

    async def names(**query: object) -> list[str]:
        return [m["Name"] for m in await api.list("machines", sort="Name", **query)]

    assert await names(Name=Re("^node-[0-2]$")) == ["node-0", "node-1", "node-2"]
    assert await names(Arch="arm64") == ["node-0", "node-2", "node-4"]
    assert await names(Arch=Eq("amd64")) == ["node-1", "node-3", "node-5"]
    assert await names(Arch=Ne("amd64")) == ["node-0", "node-2", "node-4"]
    assert await names(Name=In("node-1", "node-4")) == ["node-1", "node-4"]
    assert await names(Name=Nin("node-1", "node-4")) == ["node-0", "node-2", "node-3", "node-5"]
    assert await names(Name=Between("node-2", "node-4")) == ["node-2", "node-3", "node-4"]
    assert await names(Name=Except("node-1", "node-4")) == ["node-0", "node-5"]
    assert await names(Name=[Gt("node-1"), Lt("node-4")]) == ["node-2", "node-3"]
    assert await names(Name=[Gte("node-1"), Lte("node-2")]) == ["node-1", "node-2"]
    assert await names(reverse=True, limit=2, offset=1) == ["node-4", "node-3"]
    assert await names(filters={"Name": Re("5$")}) == ["node-5"]
    slim = await api.list("machines", limit=1, slim="Params,Meta")
    # DRP answers a slimmed field empty and marks the object Partial (recorded drpcli suite)
    assert slim[0]["Params"] == {} and slim[0]["Partial"] and "Name" in slim[0]
    assert [m["Name"] for m in await api.list_objects("machines")] != []


async def test_files_upload_download_delete(api: Api) -> None:
    answer = await api.upload_file("tests/a b.txt", b"hello\x00world")
    assert answer["Size"] == 11  # models.BlobInfo has no JSON tags (recorded drpcli output)
    assert await api.download_file("tests/a b.txt") == b"hello\x00world"
    await api.delete_file("tests/a b.txt")
    with pytest.raises(APIError) as caught:
        await api.download_file("tests/a b.txt")
    assert caught.value.code == 404


async def test_actions_and_plugin_defined_objects(api: Api, drp: StandIn) -> None:
    await drp.add_provider(INCREMENTER)
    await drp.create_plugin("incr", "incrementer")
    uuid = (await api.create("machines", {"Name": "m"}))["Uuid"]

    # reset_count requires incrementer/touched, which increment sets (DRP lists an
    # action only while the machine has its required params)
    commands = {a["Command"] for a in await api.list_actions("machines", uuid)}
    assert "increment" in commands and "reset_count" not in commands
    assert await api.run_action("machines", uuid, "increment", {"incrementer/step": 3}) == 3
    assert await api.run_action("machines", uuid, "increment", plugin="incr") == 4
    assert await api.get_param("machines", uuid, "incrementer/touched") == 2
    commands = {a["Command"] for a in await api.list_actions("machines", uuid)}
    assert {"increment", "reset_count"} <= commands
    with pytest.raises(APIError) as missing:
        await api.run_action("machines", uuid, "increment", plugin="nobody")
    assert missing.value.code == 404

    assert "incrstatus" in {a["Command"] for a in await api.list_system_actions()}
    assert await api.run_system_action("incrstatus") == "Running"
    assert isinstance(await api.list_actions("plugins", "incr"), list)

    cow = await api.create("typed-cows", {"Id": "daisy", "Spotted": True, "Location": "barn"})
    assert (cow["Type"], cow["Id"]) == ("typed-cows", "daisy")
    assert [c["Id"] for c in await api.list("typed-cows", Location="barn")] == ["daisy"]
    moved = await api.patch_to("typed-cows", "daisy", cow, {**cow, "Location": "field"})
    assert moved["Location"] == "field"
    with pytest.raises(APIError) as invalid:
        await api.create("typed-cows", {"Id": "clarabelle"})  # Spotted is required
    assert invalid.value.code == 422
    assert (await api.delete("typed-cows", "daisy"))["Id"] == "daisy"


async def test_plugin_provider_upload(api: Api, tmp_path: Path) -> None:
    wrapper = f"#!/bin/sh\nexec {sys.executable} {INCREMENTER} \"$@\"\n".encode()
    assert await api.upload_plugin_provider("incrementer", wrapper) == {
        "path": "incrementer", "size": len(wrapper),
    }
    provider = await api.get("plugin_providers", "incrementer")
    assert "increment" in {a["Command"] for a in provider["AvailableActions"]}
    (tmp_path / "provider").write_bytes(wrapper)
    with (tmp_path / "provider").open("rb") as upload:
        await api.upload_plugin_provider("incrementer", upload, replace_writable=True)
    with pytest.raises(APIError) as caught:
        await api.upload_plugin_provider("bad name!", b"#!/bin/sh\n")
    assert caught.value.code == 400


@pytest.mark.slow
async def test_user_sessions_renew_their_token_after_three_quarters_of_its_ttl() -> None:
    async with StandIn() as drp, AsyncClient(
        drp.endpoint, username="rocketskates", password="r0cketsk8ts", token_ttl=1
    ) as api:
        session = api.settings.session
        assert session is not None and session.token is None
        await api.info()
        first = session.token
        await api.info()
        assert session.token == first  # well before 3/4 of the TTL: kept
        await asyncio.sleep(0.8)  # past 3/4 of the TTL
        await api.info()
        second = session.token
        assert second not in (None, first)
        await asyncio.sleep(0.4)  # the first token has expired now
        assert await api.objects()
        async with AsyncClient(drp.endpoint, first) as stale:
            with pytest.raises(APIError) as caught:
                await stale.info()
        assert caught.value.code == 403
        for text in (repr(api), repr(session), str(caught.value)):
            assert first not in text and "r0cketsk8ts" not in text


async def test_wrong_passwords_are_api_errors(drp: StandIn) -> None:
    with Client(drp.endpoint, username="rocketskates", password="wrong") as api:
        with pytest.raises(APIError) as caught:
            await asyncio.to_thread(api.info)
    assert caught.value.code == 401 and "wrong" not in str(caught.value)


async def test_tls_verification_against_the_self_signed_certificate(drp: StandIn) -> None:
    async with AsyncClient(drp.endpoint, drp.token, verify=True) as strict:
        with pytest.raises(APIError, match="CERTIFICATE_VERIFY_FAILED"):
            await strict.info()
    async with AsyncClient(drp.endpoint, drp.token, verify=str(drp.cert_path)) as pinned:
        assert (await pinned.info())["api_port"] == drp.api_port
