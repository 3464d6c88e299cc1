"""What DRP's Go client (github.com/digitalrebar/provision/v4 ``api/``, ``cli/``) relies on.

Each test names the Go function or the recorded drpcli output it follows.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from drp_plugin.standin import StandIn


def _media_type(resp: httpx.Response) -> str:
    return resp.headers.get("Content-Type", "").split(";")[0].strip()


async def test_every_2xx_reply_is_json(client: httpx.AsyncClient, machine: dict[str, Any]
                                       ) -> None:
    """api/client.go ``R.Do``: a 2xx reply other than HEAD/304 whose media type is not
    application/json is "Cannot handle content-type" (``drpcli events post`` and
    ``drpcli files destroy`` failed on a bare 204)."""
    replies = [
        await client.post("/events", json={"Type": "t", "Action": "a", "Key": "k"}),
        await client.post("/files/x/y", content=b"data"),
        await client.delete("/files/x/y"),
        await client.delete("/files/x"),
        await client.get(f"/machines/{machine['Uuid']}/pubkey"),
        await client.get("/meta/machines/Name:m1"),
        await client.delete(f"/machines/{machine['Uuid']}"),
    ]
    for resp in replies:
        assert resp.is_success, resp.text
        assert _media_type(resp) == "application/json", resp.request.url
        resp.json()


async def test_list_count_headers(client: httpx.AsyncClient) -> None:
    """cli/commandHelper.go ``count`` sends HEAD with the filters and reads
    ``X-Drp-List-Filter-Count`` (it panics without it); drppy's
    ``custom_overrides._list_stats_wrapper`` reads all three headers."""
    for i in range(5):
        await client.post("/machines", json={"Name": f"c{i}", "Address": f"10.0.0.{i}"})
    head = await client.head("/machines", params={"Address": "Gte(10.0.0.2)", "limit": "2"})
    assert head.status_code == 200
    assert head.headers["X-DRP-LIST-FILTER-COUNT"] == "3"   # matched the filter
    assert head.headers["X-DRP-LIST-COUNT"] == "2"          # returned after paging
    assert head.headers["X-DRP-LIST-TOTAL-COUNT"] == "5"    # before any filter
    listed = await client.get("/machines", params={"Name": "c1"})
    assert [m["Name"] for m in listed.json()] == ["c1"]
    assert listed.headers["X-DRP-LIST-FILTER-COUNT"] == "1"
    assert listed.headers["X-DRP-LIST-TOTAL-COUNT"] == "5"


async def test_object_etag_and_long_poll(client: httpx.AsyncClient, machine: dict[str, Any]
                                         ) -> None:
    """cli/commandHelper.go ``show``/``exists`` ``--wait``: the ETag comes from a HEAD
    (``R.GetETag``), then ``R.Wait`` sends ``If-None-Match`` + ``Prefer: wait=<dur>``;
    a 304 means "Timeout: no change", a 200 carries the changed object."""
    path = f"/machines/{machine['Uuid']}"
    head = await client.head(path)
    etag = head.headers["ETag"]
    assert etag and (await client.get(path)).headers["ETag"] == etag
    timed_out = await client.get(path, headers={"If-None-Match": etag, "Prefer": "wait=0.2s"})
    assert timed_out.status_code == 304

    async def change() -> None:
        await asyncio.sleep(0.2)
        await client.patch(path, json=[{"op": "replace", "path": "/Description",
                                        "value": "changed"}])

    changer = asyncio.create_task(change())
    waited = await client.get(path, headers={"If-None-Match": etag, "Prefer": "wait=60s"},
                              timeout=90)
    await changer
    assert waited.status_code == 200 and waited.json()["Description"] == "changed"
    assert waited.headers["ETag"] != etag
    # an ETag that is already stale answers at once
    start = time.monotonic()
    stale = await client.get(path, headers={"If-None-Match": etag, "Prefer": "wait=10m"})
    assert stale.status_code == 200
    assert time.monotonic() - start < 60  # bound only: never waits the full 10 minutes
    bad = await client.get(path, headers={"If-None-Match": etag, "Prefer": "wait=soon"})
    assert bad.status_code == 400


async def test_file_etag_and_checksum(client: httpx.AsyncClient) -> None:
    """api/client.go ``GetBlob`` sends ``If-None-Match: "SHA256:<sum>"`` and treats 304
    as up to date; ``GetBlobSum`` reads ``X-DRP-SHA256SUM`` (or the ETag); ``PostBlob``
    decodes ``models.BlobInfo``, whose fields have no JSON tags (recorded:
    cli/test-data/output/TestFilesCli/files.upload.common.go.as.greg)."""
    data = b"blob contents\n" * 100
    digest = hashlib.sha256(data).hexdigest()
    up = await client.post("/files/greg", content=data,
                           headers={"Content-Type": "application/octet-stream"})
    assert up.status_code == 201 and up.json() == {"Path": "/greg", "Size": len(data)}
    head = await client.head("/files/greg")
    assert head.headers["X-DRP-SHA256SUM"] == digest
    assert head.headers["ETag"] == f'"SHA256:{digest}"'
    same = await client.get("/files/greg", headers={"If-None-Match": f'"SHA256:{digest}"'})
    assert same.status_code == 304 and same.content == b""
    other = await client.get("/files/greg", headers={"If-None-Match": '"SHA256:00"'})
    assert other.status_code == 200 and other.content == data


async def test_file_errors_as_recorded(client: httpx.AsyncClient) -> None:
    """Recorded: TestFilesCli/files.destroy.fred ("DELETE: files/fred: Unable to delete")
    and files.upload.files.go.as.greg/greg ("Cannot create directory /greg")."""
    gone = await client.delete("/files/fred")
    assert gone.status_code == 404
    assert gone.json()["Messages"] == ["Unable to delete"]
    await client.post("/files/greg", content=b"x")
    blocked = await client.post("/files/greg/greg", content=b"x")
    assert blocked.status_code == 409
    assert blocked.json()["Messages"] == ["Cannot create directory /greg"]


async def test_provider_upload_reply_and_long_name(drp: StandIn, client: httpx.AsyncClient
                                                   ) -> None:
    """Recorded: TestPluginProviderCli/plugin_providers.upload.incrementer.as.incrementer
    answers ``models.PluginProviderUploadInfo`` ``{"path": ..., "size": ...}``.  A
    300-character name is a 4xx ``models.Error`` (issue 10 item 11), not a 500."""
    long_name = "p" * 300
    resp = await client.post(f"/plugin_providers/{long_name}", content=b"#!/bin/sh\n")
    assert resp.status_code == 400
    body = resp.json()
    assert body["Code"] == 400 and body["Model"] == "plugin_providers"
    assert body["Messages"] == [f"Invalid Name `{long_name}`"]
    assert not (drp.root / "uploads").exists() or not any((drp.root / "uploads").iterdir())


async def test_locked_machine(client: httpx.AsyncClient, machine: dict[str, Any]) -> None:
    """Recorded: cli/test-data/output/TestMachineLocked (cli test ``TestMachineLocked``):
    a Locked machine refuses updates ("PATCH: machines/<uuid>: Locked") and destroy
    ("DELETE: machines/<uuid>: Locked"), except an update that unlocks it, even
    together with other changes."""
    path = f"/machines/{machine['Uuid']}"

    async def patch(fields: dict[str, Any]) -> httpx.Response:
        ops = [{"op": "replace", "path": f"/{k}", "value": v} for k, v in fields.items()]
        return await client.patch(path, json=ops)

    assert (await patch({"Locked": True})).status_code == 200
    refused = await patch({"Address": "192.168.124.20"})
    assert refused.status_code == 423
    assert (refused.json()["Type"], refused.json()["Messages"]) == ("PATCH", ["Locked"])
    assert (await client.post(f"{path}/params/x", json=1)).status_code == 423
    assert (await patch({"Locked": False})).status_code == 200
    assert (await patch({"Address": "192.168.124.20"})).status_code == 200
    assert (await patch({"Locked": True})).status_code == 200
    both = await patch({"Address": "192.168.124.30", "Locked": False})
    assert both.status_code == 200 and both.json()["Address"] == "192.168.124.30"
    assert (await patch({"Locked": True})).status_code == 200
    gone = await client.delete(path)
    assert gone.status_code == 423
    assert (gone.json()["Type"], gone.json()["Messages"]) == ("DELETE", ["Locked"])
    assert (await patch({"Locked": False})).status_code == 200
    assert (await client.delete(path)).status_code == 200


async def test_names_validated_as_drp_does(client: httpx.AsyncClient) -> None:
    """models/utils.go name rules; recorded: "ValidationError: params/{asdgasdg: Invalid
    Name `{asdgasdg`" (TestParamCli), the same for profiles, machines, users, stages,
    and "ValidationError: plugins/i-woman: Invalid Provider ``" (TestPluginCli)."""
    for prefix in ("params", "profiles", "plugins"):
        for name in ("{asdgasdg", "[asdgasdg]"):
            resp = await client.post(f"/{prefix}", json={"Name": name})
            assert resp.status_code == 422, (prefix, name)
            err = resp.json()
            assert (err["Type"], err["Model"], err["Key"]) == ("ValidationError", prefix, name)
            assert f"Invalid Name `{name}`" in err["Messages"]
    machine = await client.post("/machines", json={"Name": "{asdgasdg"})
    assert machine.status_code == 422 and machine.json()["Messages"] == [
        "Invalid Name `{asdgasdg`"]
    plugin = await client.post("/plugins", json={"Name": "i-woman"})
    assert plugin.status_code == 422 and plugin.json()["Messages"] == ["Invalid Provider ``"]
    # what DRP accepts: a digit first for machines, slashes in param names
    assert (await client.post("/machines", json={"Name": "1st.machine-a_b c"})).is_success
    assert (await client.post("/params", json={"Name": "a/b.c-d"})).is_success
    profile = await client.post("/profiles", json={"Name": "pp", "Profiles": ["{bad"]})
    assert "Invalid Profile Name `{bad`" in profile.json()["Messages"]


async def test_errors_echo_the_key_as_given(client: httpx.AsyncClient) -> None:
    """Recorded: "GET: machines/jk: Not Found" (TestMachineCli/machines.wait.jk.jk.jk) and "ValidationError: machines/<key>: ..."
    name the object with the key the client sent (models/errors.go ``Error.Error``
    prints Model/Key), e.g. ``Name:bob``, not the UUID it resolves to."""
    await client.post("/machines", json={"Name": "bob"})
    bad = await client.patch("/machines/Name:bob", json=[
        {"op": "replace", "path": "/Profiles", "value": ["nope"]}])
    assert bad.status_code == 422
    assert bad.json()["Key"] == "Name:bob"
    assert bad.json()["Messages"] == ["Profile nope (at 0) does not exist"]
    missing = await client.get("/machines/Name:jk")
    assert (missing.json()["Key"], missing.json()["Messages"]) == ("Name:jk", ["Not Found"])


async def test_global_profile_as_recorded(client: httpx.AsyncClient) -> None:
    """Recorded: TestProfileCli/profiles.list (the seeded ``global`` profile)."""
    profile = (await client.get("/profiles/global")).json()
    assert profile["Description"] == "Global profile attached automatically to all machines."
    assert profile["Bundle"] == "BackingStore"
    assert profile["Meta"] == {"color": "blue", "icon": "world",
                               "title": "Digital Rebar Provision"}


async def test_uploaded_provider_is_listed_when_the_upload_answers(
        drp: StandIn, client: httpx.AsyncClient) -> None:
    """DRP answers ``plugin_providers upload`` with the provider registered and its
    define read (cli test ``TestPluginProviderCli``: upload, then ``list`` and ``show``
    at once, recorded with the provider present)."""
    fake = Path(__file__).with_name("fake_provider.py")
    resp = await client.post("/plugin_providers/fake", content=fake.read_bytes())
    assert resp.status_code == 201
    shown = await client.get("/plugin_providers/fake")
    assert shown.status_code == 200 and shown.json()["Version"] == "v1.2.3"
    assert [p["Name"] for p in (await client.get("/plugin_providers")).json()] == ["fake"]


async def test_unknown_fields_dropped_and_fill_defaults(client: httpx.AsyncClient) -> None:
    """Go decodes a body into the model struct, so unknown fields vanish
    (``{"Name":"z","Bogus":1}`` is stored without Bogus); drpcli sends empty strings
    for Arch, BootEnv, Stage and Pool, which ``Machine.Fill`` (models/machine.go: Arch
    "" becomes amd64) and the server's defaults turn into amd64/local/none/default.
    The stand-in answers as DRP v4.8.0, whose models have no ``models.Audit`` fields
    (``CreatedAt``...) nor the machine's job mirror (``JobState``): none is answered."""
    made = await client.post("/machines", json={"Name": "z", "Bogus": 1, "Arch": "",
                                                 "BootEnv": "", "Stage": "", "Pool": ""})
    assert made.status_code == 201, made.text
    body = made.json()
    assert "Bogus" not in body
    assert (body["Arch"], body["BootEnv"], body["Stage"], body["Pool"]) == (
        "amd64", "local", "none", "default")
    assert not {"CreatedAt", "CreatedBy", "LastModifiedAt", "JobState"} & set(body)
    put = await client.put(f"/machines/{body['Uuid']}", json={**body, "Other": True,
                                                               "Description": "d"})
    assert "Other" not in put.json() and put.json()["Description"] == "d"


async def test_filters_by_index_type_and_params(client: httpx.AsyncClient) -> None:
    """api/client.go ``R.Filter`` builds ``?<index>=Op(v)`` and ``?<param>=Op(v)``;
    recorded (TestMachineCli/machines.list.*): "Invalid UUID: false", "Invalid address:
    fred", "Runnable must be true or false".  Addresses compare as IPs, not strings."""
    for last in (2, 3, 10, 20):
        made = await client.post("/machines", json={"Name": f"f{last}",
                                                    "Address": f"10.0.0.{last}",
                                                    "Params": {"rank": last}})
        assert made.status_code == 201, made.text

    async def names(**query: str) -> list[str]:
        resp = await client.get("/machines", params=query)
        assert resp.status_code == 200, resp.text
        return sorted(m["Name"] for m in resp.json())

    assert await names(Address="Gt(10.0.0.3)") == ["f10", "f20"]        # "10" > "3" as IPs
    assert await names(Address="Between(10.0.0.3,10.0.0.10)") == ["f10", "f3"]
    assert await names(rank="Gte(10)") == ["f10", "f20"]                  # the param filter
    assert await names(**{"Params.rank": "Lt(3)"}) == ["f2"]
    assert await names(Runnable="true") == ["f10", "f2", "f20", "f3"]
    for field, value, message in (("Uuid", "false", "Invalid UUID: false"),
                                  ("Address", "fred", "Invalid address: fred"),
                                  ("Runnable", "fred", "Runnable must be true or false")):
        bad = await client.get("/machines", params={field: value})
        assert bad.status_code == 406 and bad.json()["Messages"] == [message]
    for option in ("filter", "raw", "group-by", "range-only", "exclude-self", "expand"):
        refused = await client.get("/machines", params={option: "x"})
        assert refused.status_code == 501 and option in refused.json()["Messages"][0]


async def test_drp_wording(client: httpx.AsyncClient, fake: dict[str, Any]) -> None:
    """DRP's words, not Python's (recorded, provision af452c8a~1):
    TestPluginProviderCli/extended.5c9d4c569c536fdbe4545f7d3d5fc6ca ("Error in value:
    Spotted: Invalid type. Expected: boolean, given: string"), TestMachineCli (action
    "Invalid Parameter: incrementer/step: : (root): Invalid type. Expected: integer,
    given: string"), TestProfileCli/profiles.params.john.c79821955caebca7a1384913728d3792
    ("Patch failed to apply at line 0" / "Test op failed."),
    TestPluginProviderCli/extended.b24ec2283fb58a58c22861abe39a4f40 ("POST:
    /api/v3/freds: No route")."""
    cow = await client.post("/fake-cows", json={"Id": "fred1", "Type": "fake-cows",
                                                 "Spotted": "yes"})
    assert cow.status_code == 422
    assert cow.json()["Messages"] == [
        "Error in value: Spotted: Invalid type. Expected: boolean, given: string"]
    m1 = (await client.post("/machines", json={"Name": "w1"})).json()
    # setting one param: recorded TestParamValidation ("Key 'goodDefault': invalid val
    # '[5]': : (root): Invalid type. Expected: string, given: array")
    bad = await client.post(f"/machines/{m1['Uuid']}/params/fake/step", json="x")
    assert (bad.json()["Type"], bad.json()["Messages"]) == ("POST", [
        "Key 'fake/step': invalid val '\"x\"': : (root): Invalid type. Expected: integer, "
        "given: string"])
    # a whole object with a bad param: the action's wording (TestMachineCli)
    whole = await client.put(f"/machines/{m1['Uuid']}", json={**m1, "Params": {"fake/step": "x"}})
    assert whole.json()["Messages"] == [
        "Invalid Parameter: fake/step: : (root): Invalid type. Expected: integer, "
        "given: string"]
    await client.post("/profiles", json={"Name": "john", "Description": "d"})
    failed = await client.patch("/profiles/john", json=[
        {"op": "test", "path": "/Description", "value": "other"}])
    assert failed.status_code == 409
    assert (failed.json()["Type"], failed.json()["Messages"]) == (
        "PATCH", ["Patch failed to apply at line 0", "Test op failed."])
    second = await client.patch("/profiles/john", json=[
        {"op": "test", "path": "/Description", "value": "d"},
        {"op": "replace", "path": "/Params/none/x", "value": 1}])
    assert second.json()["Messages"][0] == "Patch failed to apply at line 1"
    not_json = await client.post("/profiles", content=b"{asdgasdg")
    assert not_json.status_code == 400
    assert not_json.json()["Messages"] == ["invalid character 'a' at offset 1"]
    assert "Expecting" not in not_json.text
    freds = await client.post("/freds", json={})
    assert freds.status_code == 404
    assert (freds.json()["Model"], freds.json()["Messages"]) == ("/api/v3/freds", ["No route"])


async def test_token_claims(drp: StandIn, client: httpx.AsyncClient) -> None:
    """models/role.go claims; cli/user.go ``token`` sends ``scope``/``action``/
    ``specific``; recorded cli/test-data/output/TestSecureParams (roles secretSetter:
    get,update,updateSecure,list and secretGetter: get,getSecure,list): a token without
    getSecure cannot ``--decode`` ("AUTH" / "Cannot access /api/v3/plugins/Name:bob?
    decode=true" / "Requires: plugins getSecure Name:bob"), one without updateSecure
    cannot set a Secure param."""
    await client.post("/params", json={"Name": "secure", "Secure": True,
                                       "Schema": {"type": "string"}})
    bob = (await client.post("/machines", json={"Name": "bob"})).json()
    await client.post(f"/machines/{bob['Uuid']}/params/secure", json="Bob")

    async def token(scope: str, action: str, specific: str = "*") -> httpx.AsyncClient:
        got = await client.get("/users/rocketskates/token",
                               params={"scope": scope, "action": action,
                                       "specific": specific})
        assert got.status_code == 200
        return httpx.AsyncClient(base_url=drp.endpoint + "/api/v3", verify=False,
                                 headers={"Authorization": f"Bearer {got.json()['Token']}"})

    async with await token("machines", "get,update,updateSecure,list") as setter, \
            await token("machines", "get,getSecure,list") as getter, \
            await token("machines", "get", "Name:bob") as one:
        assert (await setter.get("/machines/Name:bob")).status_code == 200
        assert (await setter.get("/machines")).status_code == 200
        denied = await setter.get("/machines/Name:bob", params={"decode": "true"})
        assert denied.status_code == 403
        assert (denied.json()["Type"], denied.json()["Messages"]) == (
            "AUTH", ["Cannot access /api/v3/machines/Name:bob?decode=true",
                     "Requires: machines getSecure Name:bob"])
        assert (await setter.get("/machines", params={"decode": "true"})).status_code == 403
        assert (await setter.post("/machines/Name:bob/params/secure", json="Fred")
                ).status_code == 200
        assert (await getter.get("/machines/Name:bob", params={"decode": "true"})
                ).json()["Params"]["secure"] == "Fred"
        assert (await getter.post("/machines/Name:bob/params/secure", json="Freddy")
                ).status_code == 403
        assert (await getter.delete("/machines/Name:bob")).status_code == 403
        assert (await getter.get("/profiles")).status_code == 403       # another scope
        assert (await one.get("/machines/Name:bob")).status_code == 200
        assert (await one.get(f"/machines/{bob['Uuid']}")).status_code == 403  # specific
        # a restricted token cannot get a wider one
        wider = await getter.get("/users/rocketskates/token")
        assert wider.status_code == 403


async def test_provider_token_claims(drp: StandIn, client: httpx.AsyncClient) -> None:
    """The token a plugin receives (RS_TOKEN) carries ``StandIn.provider_claims``: a
    provider tested under a restricted token meets the refusals it would meet in DRP."""
    from drp_plugin.standin.claims import Claim

    drp.provider_claims = (Claim("profiles", "*", "*"),)
    fake = Path(__file__).with_name("fake_provider.py")
    await drp.add_provider_from_command("fake", [sys.executable, str(fake)])
    await drp.create_plugin("fake", "fake")
    machine = (await client.post("/machines", json={"Name": "m1"})).json()
    answer = await client.post(f"/machines/{machine['Uuid']}/actions/api", json={})
    assert answer.status_code >= 400      # the stdlib fake dies on its refused request
    for _ in range(1000):                 # its traceback reaches the logs (stderr)
        if any("HTTP Error 403" in r.message for r in drp.logs):
            break
        await asyncio.sleep(0.01)
    assert any("HTTP Error 403" in r.message for r in drp.logs)


async def test_malformed_bodies_get_clear_errors(client: httpx.AsyncClient) -> None:
    """Bad input is a 4xx models.Error naming the problem, never a 500."""
    for path, body in (("/contents", {"meta": {"Name": "x"}, "sections": {"params": [1]}}),
                       ("/contents", ["not", "content"]), ("/users", ["x"]),
                       ("/users", {"Name": 5}), ("/prefs", {"a": 1}), ("/prefs", [1]),
                       ("/machines", [1]), ("/events", {"Action": "x"})):
        resp = await client.post(path, json=body)
        assert 400 <= resp.status_code < 500, (path, body, resp.text)
        assert resp.json()["Messages"], (path, body)
    assert (await client.patch("/profiles/global", json=[{"op": "nope", "path": "/x"}])
            ).status_code == 400
    assert (await client.put("/profiles/global", content=b"")).status_code == 400


async def test_token_roles_other_than_superuser_are_refused_by_name(
        drp: StandIn, client: httpx.AsyncClient) -> None:
    """cli/user.go ``token`` sends ``roles`` as a comma list; DRP grants the claims of
    those roles (models/role.go).  The stand-in stores no roles: every user holds
    ``superuser`` only, so that role is granted and any other is refused by name (501)
    instead of silently widening the token."""
    ok = await client.get("/users/rocketskates/token", params={"roles": "superuser"})
    assert ok.status_code == 200 and ok.json()["Token"]
    refused = await client.get("/users/rocketskates/token",
                               params={"roles": "superuser,operator", "scope": "machines"})
    assert refused.status_code == 501
    assert refused.json()["Messages"] == [
        "roles are not served by the stand-in: operator (only superuser)"]


async def test_a_malformed_replacement_keeps_the_loaded_pack(client: httpx.AsyncClient) -> None:
    """``PUT /contents/<name>`` (drppy ``ContentsApi.replace_content``) with sections that
    are not objects is refused (422) before anything is unloaded: the pack loaded before
    stays, with its objects."""
    pack = {"meta": {"Name": "keep-me"},
            "sections": {"params": {"keep/one": {"Name": "keep/one", "Schema": {}}}}}
    assert (await client.post("/contents", json=pack)).status_code in (200, 201)
    bad = await client.put("/contents/keep-me", json={"meta": {"Name": "keep-me"},
                                                      "sections": {"params": ["not", "objects"]}})
    assert bad.status_code == 422
    assert (await client.get("/contents/keep-me")).status_code == 200
    assert (await client.get("/params/keep/one")).status_code == 200
