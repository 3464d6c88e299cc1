"""The REST API of the stand-in, over real HTTPS."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from drp_plugin.standin import StandIn
from drp_plugin.standin.secure import is_envelope


def _later(drp: StandIn, seconds: float) -> None:
    """Move the stand-in's token clock ``seconds`` ahead."""
    start = drp.auth.clock()
    drp.auth.clock = lambda: start + seconds


def _raw(drp: StandIn, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=drp.endpoint + "/api/v3", verify=False, headers=headers)


async def test_auth_forms(drp: StandIn) -> None:
    async with _raw(drp) as anon:
        resp = await anon.get("/machines")
        assert resp.status_code == 401
        assert resp.json()["Code"] == 401
        assert "WWW-Authenticate" in resp.headers
        assert (await anon.get("/machines", headers={"Authorization": "Bearer nope"})
                ).status_code == 401
        assert (await anon.get("/machines", params={"token": drp.token})).status_code == 200
        assert (await anon.get("/machines", auth=("rocketskates", "r0cketsk8ts"))
                ).status_code == 200
        assert (await anon.get("/machines", auth=("rocketskates", "wrong"))).status_code == 401


async def test_user_token_and_ttl(drp: StandIn) -> None:
    async with _raw(drp) as anon:
        resp = await anon.get("/users/rocketskates/token", params={"ttl": "30"},
                              auth=("rocketskates", "r0cketsk8ts"))
        assert resp.status_code == 200
        body = resp.json()
        assert body["Info"]["api_port"] == drp.api_port
        bearer = {"Authorization": f"Bearer {body['Token']}"}
        assert (await anon.get("/info", headers=bearer)).status_code == 200
        _later(drp, 31)
        expired = await anon.get("/info", headers=bearer)
        assert expired.status_code == 403
        assert expired.json()["Messages"] == ["Token expired"]
        assert (await anon.get("/users/nobody/token", auth=("rocketskates", "r0cketsk8ts"))
                ).status_code == 404


async def test_superuser_token_ttl_and_other_users() -> None:
    async with StandIn(token_ttl=30, users={"admin": "pw", "bob": "b"}) as drp:
        async with _raw(drp, Authorization=f"Bearer {drp.token}") as client:
            assert (await client.get("/info")).status_code == 200
            bob = await client.get("/users/bob/token")  # the superuser may get any token
            assert bob.status_code == 200
            bob_auth = {"Authorization": f"Bearer {bob.json()['Token']}"}
            assert (await client.get("/users/admin/token", headers=bob_auth)).status_code == 403
            _later(drp, 31)
            assert (await client.get("/info")).status_code == 403


async def test_readonly_token_cannot_write(drp: StandIn) -> None:
    token = drp.auth.issue("rocketskates", 60, readonly=True)
    async with _raw(drp, Authorization=f"Bearer {token}") as client:
        assert (await client.get("/machines")).status_code == 200
        assert (await client.post("/machines", json={"Name": "x"})).status_code == 403


async def test_info_objects_and_unserved_routes(client: httpx.AsyncClient) -> None:
    info = (await client.get("/info")).json()
    assert info["version"].startswith("v4") and info["id"] == "drp-standin"
    objects = (await client.get("/objects")).json()
    assert {"machines", "params", "plugins", "plugin_providers", "profiles", "templates",
            "tasks", "stages", "bootenvs", "workflows", "jobs"} <= set(objects)
    for path in ("/subnets", "/subnets/x", "/leases", "/machines/x/pubkey"):
        resp = await client.get(path)
        assert resp.status_code == 404, path
    assert "does not serve" in (await client.get("/subnets")).json()["Messages"][0]
    assert (await client.get("/../api/v4/machines")).status_code == 404


async def test_machine_crud(client: httpx.AsyncClient, drp: StandIn) -> None:
    resp = await client.post("/machines", json={"Name": "m1", "Params": {"a": 1}})
    assert resp.status_code == 201
    m1 = resp.json()
    uuid = m1["Uuid"]
    assert m1["Validated"] and m1["Available"] and m1["Profiles"] == []
    assert m1["Stage"] == "none" and m1["BootEnv"] == "local"
    assert (await client.get("/machines/Name:m1")).json()["Uuid"] == uuid
    assert (await client.head(f"/machines/{uuid}")).status_code == 200
    missing = await client.get("/machines/foo")
    assert missing.status_code == 404
    assert missing.json() == {"Model": "machines", "Key": "foo", "Type": "GET",
                              "Messages": ["Not Found"], "Code": 404}
    assert (await client.head("/machines/foo")).status_code == 404
    dup = await client.post("/machines", json={"Name": "m2", "Uuid": uuid})
    assert dup.status_code == 409
    same_name = await client.post("/machines", json={"Name": "m1"})
    assert same_name.status_code == 409
    put = await client.put(f"/machines/{uuid}", json={**m1, "Description": "hello"})
    assert put.status_code == 200 and put.json()["Description"] == "hello"
    patched = await client.patch("/machines/Name:m1", json=[
        {"op": "test", "path": "/Description", "value": "hello"},
        {"op": "replace", "path": "/Description", "value": "patched"}])
    assert patched.status_code == 200 and patched.json()["Description"] == "patched"
    failed = await client.patch(f"/machines/{uuid}", json=[
        {"op": "test", "path": "/Description", "value": "nope"}])
    assert failed.status_code == 409
    bad_patch = await client.patch(f"/machines/{uuid}", json={"op": "test"})
    assert bad_patch.status_code == 400
    deleted = await client.delete(f"/machines/{uuid}")
    assert deleted.status_code == 200 and deleted.json()["Name"] == "m1"
    assert (await client.get(f"/machines/{uuid}")).status_code == 404
    actions = [(e["Type"], e["Action"]) for e in drp.events if e["Type"] == "machines"]
    assert actions == [("machines", "create"), ("machines", "update"),
                       ("machines", "update"), ("machines", "delete")]


@pytest.mark.parametrize(("body", "message"), [
    ({"Uuid": "24679e38-53a2-4a82-99dd-5280139de00c"},
     "Invalid Name ``"),
    ({"Uuid": "24679e38-53a2-4a82-99dd-5280139de00c", "Name": "foo/"},
     "Invalid Name `foo/`"),
    ({"Uuid": "24679e38-53a2-4a82-99dd-5280139de00c", "Name": "foo", "Profiles": ["foo"]},
     "Profile foo (at 0) does not exist"),
])
async def test_machine_validation(client: httpx.AsyncClient, body: dict[str, Any],
                                  message: str) -> None:
    resp = await client.post("/machines", json=body)
    assert resp.status_code == 422
    err = resp.json()
    assert err["Type"] == "ValidationError" and err["Model"] == "machines"
    assert err["Key"] == "24679e38-53a2-4a82-99dd-5280139de00c"
    assert err["Messages"] == [message]


async def test_param_schema_checked_on_every_write(client: httpx.AsyncClient) -> None:
    resp = await client.post("/params", json={"Name": "test/n",
                                              "Schema": {"type": "integer", "default": 7}})
    assert resp.status_code == 201
    bad_schema = await client.post("/params", json={"Name": "bad", "Schema": {"type": 5}})
    assert bad_schema.status_code == 422
    assert (await client.get("/params/test/n")).json()["Schema"]["default"] == 7
    bad = await client.post("/machines", json={"Name": "m1", "Params": {"test/n": "x"}})
    assert bad.status_code == 422 and "test/n" in bad.json()["Messages"][0]
    m1 = (await client.post("/machines", json={"Name": "m1"})).json()
    base = f"/machines/{m1['Uuid']}/params"
    assert (await client.post(f"{base}/test/n", json="x")).status_code == 422
    assert (await client.post(f"{base}/test/n", json=3)).json() == 3
    assert (await client.patch(base, json=[{"op": "replace", "path": "/test~1n",
                                            "value": "y"}])).status_code == 422
    assert (await client.patch(base, json=[{"op": "replace", "path": "/test~1n",
                                            "value": 4}])).json() == {"test/n": 4}
    profile = await client.post("/profiles", json={"Name": "p", "Params": {"test/n": []}})
    assert profile.status_code == 422
    assert (await client.delete(f"{base}/test/n")).json() == 4
    assert (await client.get(f"{base}/test/n")).json() is None
    assert (await client.get(f"{base}/test/n", params={"aggregate": "true"})).json() == 7
    assert (await client.delete(f"{base}/test/n")).status_code == 404
    assert (await client.post(base, json={"a": 1, "b": 2})).json() == {"a": 1, "b": 2}


async def test_aggregate_params(client: httpx.AsyncClient) -> None:
    await client.put("/profiles/global", json={"Name": "global",
                                               "Params": {"g": 1, "p": 1, "m": 1}})
    await client.post("/profiles", json={"Name": "inner", "Params": {"i": 2}})
    await client.post("/profiles", json={"Name": "p1", "Profiles": ["inner"],
                                         "Params": {"p": 2, "m": 2, "i": 3}})
    m1 = (await client.post("/machines", json={"Name": "m1", "Profiles": ["p1"],
                                               "Params": {"m": 3}})).json()
    base = f"/machines/{m1['Uuid']}"
    assert (await client.get(f"{base}/params")).json() == {"m": 3}
    assert (await client.get(f"{base}/params", params={"aggregate": "true"})).json() == {
        "g": 1, "p": 2, "m": 3, "i": 3}
    assert (await client.get(f"{base}/params/g", params={"aggregate": "true"})).json() == 1
    obj = (await client.get(base, params={"aggregate": "true"})).json()
    assert obj["Params"]["g"] == 1
    assert (await client.delete("/profiles/p1")).status_code == 409
    assert (await client.delete("/profiles/global")).status_code == 409


async def test_secure_params(client: httpx.AsyncClient) -> None:
    await client.post("/params", json={"Name": "pw", "Secure": True,
                                       "Schema": {"type": "string"}})
    m1 = (await client.post("/machines", json={"Name": "m1", "Params": {"pw": "s3cret"}})).json()
    assert is_envelope(m1["Params"]["pw"])
    base = f"/machines/{m1['Uuid']}"
    sealed = (await client.get(f"{base}/params/pw")).json()
    assert is_envelope(sealed) and "s3cret" not in str(sealed)
    assert (await client.get(f"{base}/params/pw", params={"decode": "true"})).json() == "s3cret"
    # what was read (sealed) can be written back unchanged
    assert (await client.put(base, json=m1)).status_code == 200
    assert (await client.get(f"{base}/params", params={"decode": "true"})).json() == {
        "pw": "s3cret"}
    forged = {"Key": sealed["Key"], "Nonce": sealed["Nonce"], "Payload": sealed["Key"]}
    assert (await client.post(f"{base}/params/pw", json=forged)).status_code == 422


async def test_list_filters(client: httpx.AsyncClient) -> None:
    for i in range(1, 6):
        resp = await client.post("/machines", json={"Name": f"m{i}", "Params": {"n": i},
                                                    "Description": "odd" if i % 2 else "even"})
        assert resp.status_code == 201

    async def names(**query: str) -> list[str]:
        resp = await client.get("/machines", params=query)
        assert resp.status_code == 200, resp.text
        return [m["Name"] for m in resp.json()]

    assert await names(Name="m2") == ["m2"]
    assert await names(Name="Eq(m3)") == ["m3"]
    assert sorted(await names(Name="Re(^m[12]$)")) == ["m1", "m2"]
    assert sorted(await names(Name="In(m1,m4)")) == ["m1", "m4"]
    assert len(await names(Name="Nin(m1,m4)")) == 3
    assert sorted(await names(**{"Params.n": "Gt(3)"})) == ["m4", "m5"]
    assert sorted(await names(**{"Params.n": "Between(2,3)"})) == ["m2", "m3"]
    assert sorted(await names(**{"Params.n": "Except(2,4)"})) == ["m1", "m5"]
    assert await names(sort="Name") == ["m1", "m2", "m3", "m4", "m5"]
    assert await names(sort="Name", reverse="true", limit="2", offset="1") == ["m4", "m3"]
    assert sorted(await names(Description="Ne(odd)")) == ["m2", "m4"]
    slim = (await client.get("/machines", params={"slim": "Params,Meta"})).json()
    # recorded (TestProfileCli/profiles.list.<slim params,meta>): emptied, Partial
    assert all(m["Params"] == {} and m["Meta"] == {} and m["Partial"] for m in slim)
    head = await client.head("/machines", params={"limit": "2"})
    assert head.headers["X-DRP-LIST-COUNT"] == "2"
    assert head.headers["X-DRP-LIST-TOTAL-COUNT"] == "5"
    bad = await client.get("/machines", params={"limit": "-1"})
    assert bad.status_code == 406 and bad.json()["Messages"] == ["Limit cannot be negative"]
    # a name that is not an index is a param filter (api/client.go R.Filter)
    nope = await client.get("/machines", params={"Nope": "x"})
    assert nope.status_code == 200 and nope.json() == []
    only = (await client.get("/machines", params={"params": "n", "Name": "m1"})).json()
    assert only[0]["Params"] == {"n": 1}


async def test_templates_keys_may_hold_slashes(client: httpx.AsyncClient) -> None:
    resp = await client.post("/templates", json={"ID": "a/b.tmpl", "Contents": "x",
                                                 "ReadOnly": True})
    assert resp.status_code == 201 and resp.json()["ReadOnly"] is False
    assert (await client.get("/templates/a/b.tmpl")).json()["Contents"] == "x"
    assert (await client.post("/plugin_providers", json={"Name": "x"})).status_code == 405


async def test_files_api_and_file_server(client: httpx.AsyncClient, drp: StandIn) -> None:
    put = await client.post("/files/bar/foo", content=b"Hi i am a new file",
                            headers={"Content-Type": "application/octet-stream"})
    assert put.status_code == 201 and put.json() == {"Path": "/bar/foo", "Size": 18}
    assert (await client.get("/files/bar/foo")).content == b"Hi i am a new file"
    assert (await client.get("/files")).json() == ["bar/"]
    assert (await client.get("/files", params={"path": "/bar"})).json() == ["foo"]
    missing = await client.get("/files/nope")
    assert missing.status_code == 404 and missing.json()["Messages"] == ["Not a regular file"]
    blocked = await client.post("/files/bar/foo/baz", content=b"x")
    assert blocked.status_code == 409
    escaped = await client.post("/files/..%2F..%2Fescape", content=b"x")
    assert escaped.status_code == 201 and escaped.json()["Path"] == "/escape"
    async with httpx.AsyncClient() as plain:
        served = await plain.get(f"{drp.fileserver}/files/bar/foo")
        assert served.status_code == 200 and served.content == b"Hi i am a new file"
    assert (await client.delete("/files/bar")).status_code == 404
    assert (await client.delete("/files/bar/foo")).status_code == 200
    assert (await client.delete("/files/bar")).status_code == 200


async def test_post_event(client: httpx.AsyncClient, drp: StandIn) -> None:
    resp = await client.post("/events", json={"Type": "beeblebrox", "Action": "created",
                                              "Key": "foo"})
    assert resp.status_code == 200
    event = await drp.wait_event("beeblebrox.created.foo", timeout=1)
    assert event["Principal"] == "rocketskates"


async def test_state_file_round_trip(tmp_path: Any) -> None:
    state = tmp_path / "state.json"
    async with StandIn(state_file=state) as drp:
        await drp.create("machines", {"Name": "kept"})
        await drp.create("plugins", {"Name": "orphan", "Provider": "gone"})
    async with StandIn(state_file=state) as drp:
        assert drp.get("machines", "Name:kept")["Name"] == "kept"
        assert drp.get("plugins", "orphan")["PluginErrors"] == ["Missing Plugin Provider: gone"]
        assert "global" in drp.store.data["profiles"]
