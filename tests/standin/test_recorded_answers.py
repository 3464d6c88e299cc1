"""The stand-in answers as DRP did in drpcli's recorded suite (issue #24), each theme
on its own, independent of the replay (``tools/replay_cli.py``, which needs drpcli).

Recorded: ``cli/test-data/output/<Test>/<case>`` of digitalrebar/provision at
``af452c8a~1``; v4.8.0 sources: ``models/``, ``api/``, ``cli/`` at ec1ea89a.
"""

from __future__ import annotations

from typing import Any

import httpx

from drp_plugin.content import META_FIELDS, drp_models
from drp_plugin.standin import StandIn, licenses
from drp_plugin.standin.objtypes import builtin_types
from drp_plugin.standin.providers import provider_meta
from drp_plugin.standin.server import VERSION


async def test_machine_defaults(client: httpx.AsyncClient) -> None:
    """drpcli sends every field with Go's zero values (``Runnable: false``, ``PoolStatus:
    ""``, ``Fingerprint`` with null hashes); DRP answers ``Runnable`` true, ``PoolStatus``
    Free, ``WorkflowComplete`` true (api/events_test.go ``TestWaitFor``), the Fingerprint
    filled (models/machine.go ``Fill``), ``CurrentTask`` -1 with tasks, 0 without, and the
    change-stage-v2 feature flag (recorded TestMachineCli/machines.create.*)."""
    zero = {"Name": "bob", "Runnable": False, "PoolStatus": "", "WorkflowComplete": False,
            "Fingerprint": {"CSNHash": None, "SSNHash": None, "MemoryIds": None,
                            "CloudInstanceID": "", "SystemUUID": ""}}
    bob = (await client.post("/machines", json=zero)).json()
    assert (bob["Runnable"], bob["PoolStatus"], bob["WorkflowComplete"]) == (True, "Free", True)
    assert bob["Fingerprint"] == {"CSNHash": "", "SSNHash": "", "MemoryIds": [],
                                  "CloudInstanceID": "", "SystemUUID": ""}
    assert bob["CurrentTask"] == 0 and bob["Meta"] == {"feature-flags": "change-stage-v2"}
    await client.post("/tasks", json={"Name": "t1"})
    tasked = (await client.post("/machines", json={"Name": "tasked", "Tasks": ["t1"]})).json()
    assert tasked["CurrentTask"] == -1
    # an update keeps what the client says
    idle = await client.patch(f"/machines/{bob['Uuid']}", json=[
        {"op": "replace", "path": "/Runnable", "value": False}])
    assert idle.json()["Runnable"] is False


async def test_new_tasks_and_stages(client: httpx.AsyncClient) -> None:
    """Recorded TestMachineCli tasks.create.jamie and stages.create.*: a new task has the
    sane-exit-codes feature flag, a new stage ``RunnerWait`` true."""
    task = (await client.post("/tasks", json={"Name": "jamie"})).json()
    assert task["Meta"] == {"feature-flags": "sane-exit-codes"}
    stage = (await client.post("/stages", json={"Name": "s1", "RunnerWait": False})).json()
    assert stage["RunnerWait"] is True


async def test_extended_objects_are_not_validated(client: httpx.AsyncClient,
                                                  fake: dict[str, Any]) -> None:
    """Recorded TestPluginProviderCli (``extended -l cows create``): a plugin-defined
    object (``models.RawModel``) is answered ``Available: false, Validated: false``."""
    cow = await client.post("/fake-cows", json={"Id": "fred1", "Type": "fake-cows",
                                                 "Spotted": True})
    assert cow.status_code == 201, cow.text
    assert (cow.json()["Available"], cow.json()["Validated"]) == (False, False)


async def test_meta_patch_route(client: httpx.AsyncClient) -> None:
    """cli/metaHelper.go: ``<type> meta add|set|remove`` PATCH ``/meta/<prefix>/<key>``
    with a JSON patch of the Meta; recorded TestMeta: removing an absent key fails with
    jsonpatch2's "`/foo` does not point to an existing location"."""
    await client.post("/profiles", json={"Name": "bob"})
    added = await client.patch("/meta/profiles/bob", json=[
        {"op": "test", "path": "", "value": {}}, {"op": "add", "path": "/foo", "value": "bar"}])
    assert added.status_code == 200 and added.json() == {"foo": "bar"}
    assert (await client.get("/profiles/bob")).json()["Meta"] == {"foo": "bar"}
    assert (await client.get("/meta/profiles/bob")).json() == {"foo": "bar"}
    removed = await client.patch("/meta/profiles/bob", json=[{"op": "remove", "path": "/foo"}])
    assert removed.json() == {}
    again = await client.patch("/meta/profiles/bob", json=[{"op": "remove", "path": "/foo"}])
    assert again.status_code == 409
    assert again.json()["Messages"] == ["Patch failed to apply at line 0",
                                        "`/foo` does not point to an existing location"]
    not_string = await client.patch("/meta/profiles/bob", json=[
        {"op": "add", "path": "/n", "value": 3}])
    assert not_string.status_code == 422


async def test_indexes_routes(client: httpx.AsyncClient, fake: dict[str, Any]) -> None:
    """``api/client.go`` ``Indexes``: ``/indexes/<prefix>`` (recorded
    TestCorePieces/<prefix>.indexes, TestPluginProviderCli extended indexes) and
    ``/indexes``; a name that is no type answers ``{}``."""
    profiles = (await client.get("/indexes/profiles")).json()
    assert profiles["Key"] == {"Regex": True, "Type": "string", "Unique": True,
                               "Unordered": False}
    assert sorted(profiles) == ["Available", "Bundle", "Key", "Name", "Params", "ReadOnly",
                                "Valid"]
    machines = (await client.get("/indexes/machines")).json()
    assert machines["Uuid"]["Type"] == "UUID string"
    assert machines["Address"]["Type"] == "IP Address"
    cows = (await client.get("/indexes/fake-cows")).json()
    assert {"Available", "Id", "Key", "ReadOnly", "Spotted", "Type", "Valid"} <= set(cows)
    assert cows["Spotted"]["Type"] == "boolean"
    assert (await client.get("/indexes/freds")).json() == {}
    every = (await client.get("/indexes")).json()
    assert every["profiles"] == profiles and "fake-cows" in every
    for prefix in ("roles", "tenants", "users"):  # users live apart from the store
        named = (await client.get(f"/indexes/{prefix}")).json()
        assert sorted(named) == ["Available", "Bundle", "Key", "Name", "ReadOnly", "Valid"]
        assert every[prefix] == named


async def test_null_param_body(client: httpx.AsyncClient) -> None:
    """cli/paramHelper.go sends ``to null`` as an empty body; DRP stores null
    (recorded TestProfileCli profiles.set.john.param.john2.to.null: ``null``)."""
    await client.post("/profiles", json={"Name": "john", "Params": {"john2": 3}})
    null = await client.post("/profiles/john/params/john2", content=b"")
    assert null.status_code == 200 and null.json() is None
    assert (await client.get("/profiles/john/params")).json() == {"john2": None}


async def test_slim_and_params_options(client: httpx.AsyncClient) -> None:
    """Recorded TestProfileCli (``--slim params,meta``, ``--params FRED,JESSIE,JOHN``):
    slimmed fields are answered empty, ``params=`` keeps the named params even with
    ``slim=params``, and the object is Partial; ``<type> params --params`` filters."""
    await client.post("/profiles", json={"Name": "john", "Meta": {"m": "1"},
                                         "Params": {"FRED": "GREG", "JESSIE": "JAMES", "x": 1}})
    slim = (await client.get("/profiles/john", params={"slim": "params,meta"})).json()
    assert (slim["Params"], slim["Meta"], slim["Partial"]) == ({}, {}, True)
    both = (await client.get("/profiles/john", params={"slim": "params,meta",
                                                       "params": "FRED,JESSIE,JOHN"})).json()
    assert both["Params"] == {"FRED": "GREG", "JESSIE": "JAMES"} and both["Meta"] == {}
    only = (await client.get("/profiles/john", params={"params": "FRED"})).json()
    assert only["Params"] == {"FRED": "GREG"} and only["Meta"] == {"m": "1"} and only["Partial"]
    full = (await client.get("/profiles/john")).json()
    assert full["Partial"] is False and len(full["Params"]) == 3
    params = await client.get("/profiles/john/params", params={"params": "FRED,JESSIE,JOHN"})
    assert params.json() == {"FRED": "GREG", "JESSIE": "JAMES"}


def test_plugin_provider_meta() -> None:
    """models/plugin_provider.go ``Store``: Source FromPluginProvider and the default
    Description when unset or "Unspecified", ``color``/``icon`` copies of Color/Icon,
    Type plugin (recorded TestLoadIncrementer/plugin_providers.show.incrementer)."""
    meta = provider_meta({"Source": "Unspecified", "Description": "", "Color": "blue",
                          "Icon": "cow", "Type": "dynamic"}, "incrementer", "v4.8.0")
    assert {k: v for k, v in meta.items() if v} == {
        "Source": "FromPluginProvider", "Color": "blue", "Icon": "cow", "color": "blue",
        "icon": "cow", "Type": "plugin", "Name": "incrementer", "Version": "v4.8.0",
        "Description": "Content layer for incrementer plugin provider"}
    assert set(meta) == {*META_FIELDS, "color", "icon"}  # every ContentMetaData field
    kept = provider_meta({"Source": "RackN", "Description": "d"}, "x", "v1")
    assert (kept["Source"], kept["Description"], kept["color"]) == ("RackN", "d", "")


async def test_installed_provider_meta(client: httpx.AsyncClient, fake: dict[str, Any]) -> None:
    shown = (await client.get("/plugin_providers/fake")).json()["Meta"]
    assert (shown["Source"], shown["color"], shown["icon"]) == ("FromPluginProvider", "", "")
    assert (shown["Description"], shown["Type"]) == ("fake provider", "plugin")


async def test_error_wording_model_and_key(client: httpx.AsyncClient,
                                           fake: dict[str, Any]) -> None:
    """As recorded: removing an unset param is "DELETE: params/<name>: Not Found"
    (TestProfileCli); a failed patch test of a missing member is jsonpatch2's "Selector
    <name> not a member of map[string]interface {}{...}"; a create without a key is
    "CREATE: plugins: Empty key not allowed" (TestPluginCli); an unknown system action
    is "GET: profiles/global: command: Not Found" and running it "INVOKE:
    system/global: Action command on system: Not Found" (TestSystemCli); an unknown
    route's model is the whole path ("POST: /api/v3/freds: No route")."""
    await client.post("/profiles", json={"Name": "john", "Params": {"FRED": "GREG"}})
    unset = (await client.delete("/profiles/john/params/newparam")).json()
    assert (unset["Type"], unset["Model"], unset["Key"], unset["Messages"]) == (
        "DELETE", "params", "newparam", ["Not Found"])
    patched = (await client.patch("/profiles/john", json=[
        {"op": "test", "path": "/Params/john2", "value": "cow"}])).json()
    assert patched["Messages"] == [
        "Patch failed to apply at line 0",
        'Selector john2 not a member of map[string]interface {}{"FRED":"GREG"}']
    keyless = (await client.post("/plugins", json={"Description": "i-woman's plugin"})).json()
    assert (keyless["Type"], keyless["Model"], keyless["Key"], keyless["Messages"]) == (
        "CREATE", "plugins", "", ["Empty key not allowed"])
    shown = (await client.get("/system/actions/command")).json()
    assert (shown["Type"], shown["Model"], shown["Key"], shown["Messages"]) == (
        "GET", "profiles", "global", ["command: Not Found"])
    run = (await client.post("/system/actions/command", json={})).json()
    assert (run["Type"], run["Model"], run["Key"], run["Messages"]) == (
        "INVOKE", "system", "global", ["Action command on system: Not Found"])
    route = (await client.post("/freds", json={})).json()
    assert (route["Type"], route["Model"], route["Messages"]) == (
        "POST", "/api/v3/freds", ["No route"])


async def test_param_default_validated_and_set_wording(client: httpx.AsyncClient) -> None:
    """models/param.go ``Validate``: a Schema default its schema refuses is "Error in
    default value: (root): Invalid type. Expected: string, given: boolean" (recorded
    TestParamCli); setting a refused value is "POST: profiles/bob: Key 'goodDefault':
    invalid val '[5]': : (root): ..." (recorded TestParamValidation)."""
    bad = (await client.post("/params", json={
        "Name": "badDefault", "Schema": {"type": "string", "default": False}})).json()
    assert (bad["Type"], bad["Messages"]) == (
        "ValidationError",
        ["Error in default value: (root): Invalid type. Expected: string, given: boolean"])
    good = await client.post("/params", json={
        "Name": "goodDefault", "Schema": {"type": "string", "default": "five"}})
    assert good.status_code == 201
    await client.post("/profiles", json={"Name": "bob"})
    refused = (await client.post("/profiles/bob/params/goodDefault", json=[5])).json()
    assert (refused["Type"], refused["Key"], refused["Messages"]) == (
        "POST", "bob", ["Key 'goodDefault': invalid val '[5]': : (root): Invalid type. "
                        "Expected: string, given: array"])


async def test_schema_errors_keep_the_root_prefix(client: httpx.AsyncClient,
                                                  fake: dict[str, Any]) -> None:
    """gojsonschema's ``e.String()`` (recorded ``Error in value: (root): Spotted is
    required``)."""
    cow = (await client.post("/fake-cows", json={"Id": "c2", "Type": "fake-cows"})).json()
    assert cow["Messages"] == ["Error in value: (root): Spotted is required"]


async def test_key_index_lookup(client: httpx.AsyncClient) -> None:
    """``plugins show Key:i-woman`` (recorded TestPluginCli): ``Key:`` names the key."""
    await client.post("/profiles", json={"Name": "i-woman"})
    assert (await client.get("/profiles/Key:i-woman")).json()["Name"] == "i-woman"
    assert (await client.get("/profiles/Name:i-woman")).json()["Name"] == "i-woman"
    missing = (await client.get("/profiles/Key:nobody")).json()
    assert (missing["Key"], missing["Messages"]) == ("Key:nobody", ["Not Found"])


async def test_answers_as_drp_v4_8(drp: StandIn, client: httpx.AsyncClient) -> None:
    """The stand-in answers as DRP v4.8.0: ``/info`` says so, and every built-in type has
    exactly the JSON fields of v4.8's model (``drp_models.json``, read from models/*.go
    at ec1ea89a): no ``models.Audit`` fields, no work-order or job-mirror fields."""
    assert VERSION.startswith("v4.8.0")
    assert (await client.get("/info")).json()["version"] == VERSION
    models = drp_models()
    assert models["source"]["commit"].startswith("ec1ea89a")
    for otype in builtin_types():
        struct = models["prefixes"].get(otype.prefix)
        if struct is None:
            continue
        fields = set(otype.defaults) | set(otype.factories) | {otype.key}
        assert fields == set(models["structs"][struct]), otype.prefix
    machine = (await client.post("/machines", json={"Name": "v48"})).json()
    assert not {"CreatedAt", "LastModifiedBy", "JobState", "WorkOrderMode"} & set(machine)


async def test_basic_store_content(drp: StandIn, client: httpx.AsyncClient) -> None:
    """DRP starts with the BasicStore layer (recorded TestBootEnvCli/bootenvs.list,
    TestStageCli/stages.list, TestAuth/params.list.*, TestContentCli/contents.list):
    read-only bootenvs ignore and local, stages local and none, the param
    pxelinux-local-boot and the role superuser, all with Bundle BasicStore; loaded
    without events."""
    envs = (await client.get("/bootenvs")).json()
    assert [e["Name"] for e in envs] == ["ignore", "local"]
    assert all(e["Bundle"] == "BasicStore" and e["ReadOnly"] for e in envs)
    assert envs[0]["OnlyUnknown"] is True and envs[0]["OS"]["Name"] == "ignore"
    assert [t["Name"] for t in envs[1]["Templates"]] == [
        "pxelinux", "ipxe", "pxelinux-mac", "ipxe-mac", "grub", "grub-mac"]
    assert envs[1]["Templates"][1] == {"Name": "ipxe", "Path": "{{.Machine.Address}}.ipxe",
                                       "Contents": "#!ipxe\nexit\n", "ID": "", "Link": "",
                                       "Meta": {}}
    stages = (await client.get("/stages")).json()
    assert [(s["Name"], s["BootEnv"], s["RunnerWait"]) for s in stages] == [
        ("local", "local", True), ("none", "", True)]
    param = (await client.get("/params/pxelinux-local-boot")).json()
    assert param["Schema"] == {"type": "string", "default": "localboot 0"}
    assert param["Bundle"] == "BasicStore" and param["ReadOnly"] is True
    layers = (await client.get("/contents")).json()
    layer = next(c for c in layers if c["meta"]["Name"] == "BasicStore")
    assert layer["Counts"] == {"bootenvs": 2, "params": 1, "roles": 1, "stages": 2}
    assert (layer["meta"]["Type"], layer["meta"]["Version"], layer["meta"]["Overwritable"]) \
        == ("basic", "3.12.0", True)
    assert (await client.delete("/stages/none")).status_code == 403
    assert not [e for e in drp.events if e.get("Key") in ("ignore", "local", "none")]


async def test_machine_takes_its_stage_tasks(client: httpx.AsyncClient) -> None:
    """Recorded TestJobCli/machines.create.*: a machine created in stage3 gets the stage's
    tasks and CurrentTask -1; a job for it takes the first task and is Current
    (jobs.create.*); a stage with a BootEnv moves the machine's BootEnv; a stage that
    does not exist is refused ("Stage john2 does not exist")."""
    for name in ("task1", "task2", "task3"):
        await client.post("/tasks", json={"Name": name})
    await client.post("/stages", json={"Name": "stage3", "Tasks": ["task1", "task2", "task3"]})
    uid = "3e7031fe-3062-45f1-835c-92541bc9cbd3"
    john = (await client.post("/machines", json={"Name": "john", "Uuid": uid,
                                                 "Stage": "stage3"})).json()
    assert (john["Tasks"], john["CurrentTask"]) == (["task1", "task2", "task3"], -1)
    job = (await client.post("/jobs", json={"Machine": uid})).json()
    assert (job["Task"], job["CurrentIndex"], job["NextIndex"], job["Current"]) == (
        "task1", 0, 1, True)
    await client.put(f"/jobs/{job['Uuid']}", json={**job, "State": "finished"})
    second = (await client.post("/jobs", json={"Machine": uid})).json()
    assert second["Task"] == "task2"
    assert (await client.get(f"/jobs/{job['Uuid']}")).json()["Current"] is False
    await client.post("/stages", json={"Name": "booting", "BootEnv": "ignore"})
    # tasks are left: recorded TestMachineCli, "machines stage <uuid> stage2" is refused
    # unless forced
    to_booting = [{"op": "replace", "path": "/Stage", "value": "booting"}]
    refused = await client.patch(f"/machines/{uid}", json=to_booting)
    assert (refused.status_code, refused.json()["Messages"]) == (
        422, ["Can not change stages with pending tasks unless forced"])
    moved = (await client.patch(f"/machines/{uid}", json=to_booting,
                                params={"force": "true"})).json()
    assert (moved["Stage"], moved["BootEnv"], moved["Tasks"]) == ("booting", "ignore", [])
    bad = (await client.patch(f"/machines/{uid}", json=[
        {"op": "replace", "path": "/Stage", "value": "john2"}])).json()
    assert (bad["Type"], bad["Key"], bad["Messages"]) == (
        "ValidationError", uid, ["Stage john2 does not exist"])


async def test_machine_workflow_expands_stages(client: httpx.AsyncClient) -> None:
    """Recorded TestWorkflowCli and TestWorkflowSwitch: a workflow gives the machine
    ``stage:<s>``, ``bootenv:<b>`` (when the stage has one) and the stage's tasks for each
    stage, the first stage and its BootEnv; leaving the workflow puts it in stage none
    with no tasks; an unavailable workflow is refused."""
    await client.post("/tasks", json={"Name": "t1"})
    await client.post("/stages", json={"Name": "john", "BootEnv": "local", "Tasks": ["t1"]})
    await client.post("/stages", json={"Name": "james", "BootEnv": "ignore"})
    await client.post("/workflows", json={"Name": "wf1", "Stages": ["john", "james"]})
    m1 = (await client.post("/machines", json={"Name": "m1", "Workflow": "wf1"})).json()
    assert m1["Tasks"] == ["stage:john", "bootenv:local", "t1", "stage:james", "bootenv:ignore"]
    assert (m1["Stage"], m1["BootEnv"], m1["CurrentTask"]) == ("john", "local", -1)
    # a job passes the stage:/bootenv: entries, moving the machine, and runs t1
    job = (await client.post("/jobs", json={"Machine": m1["Uuid"]})).json()
    assert (job["Task"], job["CurrentIndex"]) == ("t1", 2)
    assert (await client.get(f"/machines/{m1['Uuid']}")).json()["CurrentTask"] == 2
    left = (await client.patch(f"/machines/{m1['Uuid']}", json=[
        {"op": "replace", "path": "/Workflow", "value": ""}])).json()
    assert (left["Stage"], left["Tasks"]) == ("none", [])
    wf4 = (await client.post("/workflows", json={"Name": "wf4", "Stages": ["missing"]})).json()
    assert (wf4["Available"], wf4["Errors"]) == (False, ["Stage missing does not exist"])
    m4 = (await client.post("/machines", json={"Name": "m4", "Workflow": "wf4"})).json()
    assert m4["Messages"][0].endswith("wants Workflow wf4, which is not available")


async def test_template_checks(client: httpx.AsyncClient) -> None:
    """v4.8 models/templateInfo.go ``SanityCheck`` fills a missing template Meta with {}
    (recorded TestWorkflowCli bootenvs.create: ``"Meta": {}``); models/task.go refuses a
    task mixing templates with and without OS metadata (recorded TestTaskCli); a stage
    naming a missing BootEnv is stored not Available (TestBootenvStageHandling)."""
    env = (await client.post("/bootenvs", json={"Name": "Fred", "Templates": [
        {"Name": "ipxe", "Path": "/ipxe", "Contents": "foo"}]})).json()
    assert env["Templates"][0]["Meta"] == {} and env["Templates"][0]["Link"] == ""
    mixed = (await client.post("/tasks", json={"Name": "mixedOSes", "Templates": [
        {"Name": "t1", "Contents": "1"},
        {"Name": "t2", "Contents": "2", "Meta": {"OS": "any"}}]})).json()
    assert mixed["Messages"] == [
        "Cannot mix templates with OS metadata and templates without OS metadata",
        "Template[0] t1 is missing OS metadata", "Template[1] t2 has OS metadata any"]
    stage = (await client.post("/stages", json={"Name": "fred", "BootEnv": "fred"})).json()
    assert (stage["Available"], stage["Errors"]) == (False, ["BootEnv fred does not exist"])
    await client.post("/bootenvs", json={"Name": "fred"})
    again = (await client.get("/stages/fred")).json()
    assert (again["Available"], again["Errors"]) == (True, [])


async def test_access_log(tmp_path: Any) -> None:
    """``serve --access-log``: one line per request, written before it is answered (the
    replay counts a case's requests with it)."""
    log = tmp_path / "access.log"
    async with StandIn(access_log=log) as drp:
        async with httpx.AsyncClient(base_url=drp.endpoint + "/api/v3", verify=False,
                                     headers={"Authorization": f"Bearer {drp.token}"}) as api:
            await api.get("/info")
            await api.get("/nothing-here")
        async with httpx.AsyncClient(base_url=drp.fileserver) as files:
            await files.get("/files/none")
        lines = log.read_text().splitlines()
    assert [line.split()[1:] for line in lines] == [
        ["api", "GET", "/api/v3/info"], ["api", "GET", "/api/v3/nothing-here"],
        ["files", "GET", "/files/none"]]


async def test_delete_user(drp: StandIn, client: httpx.AsyncClient) -> None:
    """``drpcli users destroy fred`` (recorded TestUserCli ``Deleted user fred``):
    ``DELETE /users/<name>`` answers the user; its tokens stop working; the superuser
    stays."""
    await client.post("/users", json={"Name": "fred", "Password": "pw"})
    token = drp.auth.issue("fred", 60.0)
    gone = await client.delete("/users/fred")
    assert gone.status_code == 200 and gone.json()["Name"] == "fred"
    assert (await client.get("/users/fred")).status_code == 404
    assert (await client.get("/info", headers={"Authorization": f"Bearer {token}"})
            ).status_code == 401
    assert (await client.delete("/users/fred")).status_code == 404
    assert (await client.delete(f"/users/{drp.auth.superuser}")).status_code == 409


def _as(drp: StandIn, user: str, password: str) -> httpx.AsyncClient:
    """A client logged in as ``user`` with its password (``drpcli -U user -P password``)."""
    return httpx.AsyncClient(base_url=drp.endpoint + "/api/v3", verify=False,
                             auth=(user, password), timeout=30)


async def _licensed(client: httpx.AsyncClient) -> None:
    """Load a licence pack (roles and tenants are licensed features)."""
    loaded = await client.post("/contents", json=licenses.pack())
    assert loaded.status_code == 201, loaded.text


async def test_roles_and_the_superuser_role(client: httpx.AsyncClient) -> None:
    """``roles`` (recorded TestAuth/roles.list, roles.create.*): BasicStore's read-only
    ``superuser`` holds ``* * *``; claims given as ``Scope``/``Action``/``Specific`` are
    stored with DRP's JSON names ``scope``/``action``/``specific``."""
    await _licensed(client)
    superuser = (await client.get("/roles/superuser")).json()
    assert (superuser["Bundle"], superuser["ReadOnly"], superuser["Claims"]) == (
        "BasicStore", True, [{"action": "*", "scope": "*", "specific": "*"}])
    made = await client.post("/roles", json={
        "Name": "stage", "Claims": [{"Scope": "stages", "Action": "*", "Specific": "*"}]})
    assert made.status_code == 201, made.text
    assert made.json()["Claims"] == [{"action": "*", "scope": "stages", "specific": "*"}]
    assert [r["Name"] for r in (await client.get("/roles")).json()] == ["stage", "superuser"]
    bad = await client.post("/roles", json={"Name": "bad", "Claims": [{"Scope": 5}]})
    assert bad.status_code == 422


async def test_users_hold_roles(drp: StandIn, client: httpx.AsyncClient) -> None:
    """recorded TestUserCli/TestAuth: a new user holds no roles (``"Roles": []``), the
    default user ``superuser``; ``users update`` (PATCH) sets them, naming roles that
    exist; ``users list Name=fred`` filters (``[]``)."""
    await _licensed(client)
    fred = (await client.post("/users", json={"Name": "fred"})).json()
    assert fred["Roles"] == [] and "Secret" not in fred and "PasswordHash" not in fred
    assert (await client.get("/users/rocketskates")).json()["Roles"] == ["superuser"]
    await client.post("/roles", json={"Name": "stage", "Claims": [
        {"Scope": "stages", "Action": "*", "Specific": "*"}]})
    patched = await client.patch("/users/fred", json=[
        {"op": "replace", "path": "/Roles", "value": ["stage"]}])
    assert patched.status_code == 200 and patched.json()["Roles"] == ["stage"]
    missing = await client.put("/users/fred", json={"Name": "fred", "Roles": ["nope"]})
    assert missing.status_code == 422
    assert missing.json()["Messages"] == ["Role nope does not exist"]
    assert [u["Name"] for u in (await client.get("/users", params={"Name": "fred"})).json()
            ] == ["fred"]
    assert (await client.get("/users", params={"Name": "nobody"})).json() == []


async def test_a_user_sees_what_its_roles_claim(drp: StandIn,
                                               client: httpx.AsyncClient) -> None:
    """recorded TestAuth (user t1-0 with role ``stage``: ``stages list`` answers,
    ``tasks list`` ``[]``, ``tasks show task1`` "GET: tasks/task1: Not Found") and
    TestUserCli (john without roles: ``users list`` ``[]``); a user logs in (gets its own
    token) whatever its roles; a role in use is not deleted ("StillInUseError:
    roles/task" / "In use by User t1-1"), the superuser role neither."""
    await _licensed(client)
    await client.post("/roles", json={"Name": "stage", "Claims": [
        {"Scope": "stages", "Action": "*", "Specific": "*"}]})
    await client.post("/tasks", json={"Name": "task1"})
    await client.post("/users", json={"Name": "t1-0", "Password": "foo", "Roles": ["stage"]})
    await client.post("/users", json={"Name": "john", "Password": "june"})
    async with _as(drp, "t1-0", "foo") as t10, _as(drp, "john", "june") as john:
        assert [s["Name"] for s in (await t10.get("/stages")).json()] == ["local", "none"]
        assert (await t10.get("/tasks")).json() == []
        hidden = await t10.get("/tasks/task1")
        assert (hidden.status_code, hidden.json()["Model"], hidden.json()["Messages"]) == (
            404, "tasks", ["Not Found"])
        assert (await t10.post("/tasks", json={"Name": "t2"})).status_code == 403
        assert (await john.get("/users")).json() == []
        token = await john.get("/users/john/token")
        assert token.status_code == 200
        as_token = {"Authorization": f"Bearer {token.json()['Token']}"}
        assert (await john.get("/users", headers=as_token)).json() == []
        assert (await john.get("/users/t1-0/token")).status_code == 403
    in_use = await client.delete("/roles/stage")
    assert (in_use.status_code, in_use.json()["Type"], in_use.json()["Messages"]) == (
        409, "StillInUseError", ["In use by User t1-0"])
    superuser = await client.delete("/roles/superuser")
    assert superuser.json()["Messages"] == ["In use by User rocketskates"]


async def test_secure_params_by_role(drp: StandIn, client: httpx.AsyncClient) -> None:
    """recorded TestSecureParams: a user whose role lacks getSecure cannot ``--decode``
    ("Requires: machines getSecure Name:bob"); one lacking updateSecure cannot fetch the
    key a secure value is sealed with ("Cannot access /api/v3/machines/Name:bob/pubkey"
    / "Requires: machines updateSecure Name:bob")."""
    await _licensed(client)
    await client.post("/roles", json={"Name": "secretGetter", "Claims": [
        {"Scope": "params", "Action": "get", "Specific": "*"},
        {"Scope": "machines,profiles,plugins", "Action": "get,getSecure,list",
         "Specific": "*"}]})
    await client.post("/roles", json={"Name": "secretSetter", "Claims": [
        {"Scope": "machines,profiles,plugins", "Action": "get,update,updateSecure,list",
         "Specific": "*"}]})
    await client.post("/machines", json={"Name": "bob"})
    await client.post("/users", json={"Name": "fred", "Password": "fred",
                                      "Roles": ["secretSetter"]})
    await client.post("/users", json={"Name": "fred2", "Password": "fred",
                                      "Roles": ["secretGetter"]})
    async with _as(drp, "fred", "fred") as fred, _as(drp, "fred2", "fred") as fred2:
        denied = await fred.get("/machines/Name:bob", params={"decode": "true"})
        assert (denied.status_code, denied.json()["Messages"]) == (403, [
            "Cannot access /api/v3/machines/Name:bob?decode=true",
            "Requires: machines getSecure Name:bob"])
        assert (await fred.get("/machines/Name:bob/pubkey")).status_code == 200
        key = await fred2.get("/machines/Name:bob/pubkey")
        assert (key.status_code, key.json()["Messages"]) == (403, [
            "Cannot access /api/v3/machines/Name:bob/pubkey",
            "Requires: machines updateSecure Name:bob"])
        assert (await fred2.get("/machines/Name:bob", params={"decode": "true"})
                ).status_code == 200


async def test_user_token_ttl_is_whole_seconds(client: httpx.AsyncClient) -> None:
    """recorded TestUserCli ``users token rocketskates ... ttl cow``: "GET:
    users/rocketskates: strconv.ParseInt: parsing "cow": invalid syntax"."""
    cow = await client.get("/users/rocketskates/token", params={"ttl": "cow"})
    assert (cow.status_code, cow.json()["Messages"]) == (
        400, ['strconv.ParseInt: parsing "cow": invalid syntax'])
    assert (await client.get("/users/rocketskates/token", params={"ttl": "330"})
            ).status_code == 200


async def test_prefs_as_recorded(client: httpx.AsyncClient) -> None:
    """recorded TestPrefsCli: DRP's preference set and defaults, log levels by number,
    its refusals (all or nothing), ``baseTokenSecret`` never listed, and the default
    boot environment not deleted ("BootEnv local3 is the active defaultBootEnv, cannot
    remove it")."""
    assert (await client.get("/prefs")).json() == {
        "debugBootEnv": "warn", "debugDhcp": "warn", "debugFrontend": "warn",
        "debugPlugins": "warn", "debugRenderer": "warn", "defaultBootEnv": "local",
        "defaultStage": "none", "knownTokenTimeout": "3600", "logLevel": "warn",
        "unknownBootEnv": "ignore", "unknownTokenTimeout": "600"}
    levels = await client.post("/prefs", json={"debugRenderer": "1", "debugDhcp": "2",
                                               "debugBootEnv": "0"})
    assert [levels.json()[k] for k in ("debugRenderer", "debugDhcp", "debugBootEnv")] == [
        "info", "debug", "warn"]
    for body, message in (
            ({"defaultBootEnv": "illegal"}, "defaultBootEnv: Bootenv illegal does not exist"),
            ({"baseTokenSecret": "illegal"}, "baseTokenSecret: Must be 32 bytes long"),
            ({"knownTokenTimeout": "illegal", "debugDhcp": "0"},
             'knownTokenTimeout: strconv.Atoi: parsing "illegal": invalid syntax')):
        refused = await client.post("/prefs", json=body)
        assert (refused.status_code, refused.json()["Model"], refused.json()["Messages"]) \
            == (422, "prefs", [message])
    assert (await client.get("/prefs")).json()["debugDhcp"] == "debug"   # nothing applied
    secret = await client.post("/prefs", json={"baseTokenSecret": "x" * 32})
    assert secret.status_code == 200 and "baseTokenSecret" not in secret.json()
    await client.post("/bootenvs", json={"Name": "local3"})
    assert (await client.post("/prefs", json={"defaultBootEnv": "local3"})).status_code == 200
    held = await client.delete("/bootenvs/local3")
    assert (held.status_code, held.json()["Type"], held.json()["Messages"]) == (
        409, "StillInUseError", ["BootEnv local3 is the active defaultBootEnv, cannot remove it"])
    await client.post("/prefs", json={"defaultBootEnv": "local"})
    assert (await client.delete("/bootenvs/local3")).status_code == 200


async def test_role_claims_are_validated(client: httpx.AsyncClient) -> None:
    """recorded TestRoleCLI (``mkr`` roles): "ValidationError: roles/badScope: No such
    scope 'bar'", "roles/noScope: No such scope ''", "roles/noAction: No such action
    ''", "roles/badAction: No such action 'bar'"; ``* * ""`` is valid; a
    plugin-defined type is a scope too."""
    await _licensed(client)
    def role(name: str, scope: str, action: str, specific: str = "") -> dict[str, Any]:
        return {"Name": name, "Claims": [{"scope": scope, "action": action,
                                          "specific": specific}]}

    for body, message in ((role("badScope", "bar", ""), "No such scope 'bar'"),
                          (role("noScope", "", ""), "No such scope ''"),
                          (role("noAction", "machines", ""), "No such action ''"),
                          (role("badAction", "machines", "bar"), "No such action 'bar'")):
        refused = await client.post("/roles", json=body)
        assert (refused.status_code, refused.json()["Type"], refused.json()["Key"],
                refused.json()["Messages"]) == (422, "ValidationError", body["Name"],
                                                [message]), refused.text
    assert (await client.post("/roles", json=role("validButUseless", "*", "*"))
            ).status_code == 201
    assert (await client.post("/roles", json=role("runner", "machines,profiles",
                                                  "get,action:reboot,getSecure", "*"))
            ).status_code == 201
    assert (await client.post("/roles", json=role("prefs", "preferences", "list,post"))
            ).status_code == 201


async def test_machine_arch_spellings(client: httpx.AsyncClient) -> None:
    """Recorded TestMachineArch (models/machine.go ``SupportedArch``, v4.8): the known
    architectures are accepted as spelled, an alias is refused naming the spelling DRP
    wants, anything else is unsupported; an empty Arch is filled with amd64."""
    for i, arch in enumerate(("amd64", "386", "arm64", "ppc64le", "mipsle", "rpi4", "")):
        made = await client.post("/machines", json={"Name": f"m{i}", "Arch": arch})
        assert made.status_code == 201, made.text
        assert made.json()["Arch"] == (arch or "amd64")
    for arch, wanted in (("x86_64", "amd64"), ("i686", "386"), ("armhfp", "arm"),
                         ("aarch64", "arm64"), ("power9", "ppc64"), ("mipsel", "mipsle"),
                         ("AMD64", "amd64")):
        refused = await client.post("/machines", json={"Name": "alias", "Arch": arch})
        assert refused.status_code == 422
        assert refused.json()["Messages"] == [f"Please use {wanted} for Arch instead of {arch}"]
    refused = await client.post("/machines", json={"Name": "foo", "Arch": "foo"})
    assert refused.status_code == 422
    assert refused.json()["Messages"] == ["Unsupported arch foo"]


async def test_bootenv_change_stops_the_machine(client: httpx.AsyncClient) -> None:
    """Recorded TestWorkflowCli (m0 to wf1, wf2, wf3) and TestCurrentTaskReposition (bob
    to wf1): a stored machine whose BootEnv changes is no longer Runnable; a workflow
    leaving the bootenv alone keeps it Runnable, and a new machine stays Runnable.
    TestMachineCli ``machines bootenv <uuid> john2``: a missing bootenv is refused."""
    for env in ("env1", "env2"):
        await client.post("/bootenvs", json={"Name": env})
    await client.post("/stages", json={"Name": "plain"})
    await client.post("/stages", json={"Name": "s1", "BootEnv": "env1"})
    await client.post("/workflows", json={"Name": "keep", "Stages": ["plain"]})
    await client.post("/workflows", json={"Name": "move", "Stages": ["s1"]})
    bob = (await client.post("/machines", json={"Name": "bob"})).json()
    path = f"/machines/{bob['Uuid']}"

    async def patch(field: str, value: Any) -> dict[str, Any]:
        answer = await client.patch(path, json=[{"op": "replace", "path": f"/{field}",
                                                 "value": value}])
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    kept = await patch("Workflow", "keep")
    assert (kept["BootEnv"], kept["Runnable"]) == ("local", True)
    moved = await patch("Workflow", "move")
    assert (moved["BootEnv"], moved["Runnable"]) == ("env1", False)
    assert (await patch("Runnable", True))["Runnable"] is True
    assert (await patch("BootEnv", "env2"))["Runnable"] is False
    missing = await client.patch(path, json=[{"op": "replace", "path": "/BootEnv",
                                              "value": "john2"}])
    assert (missing.status_code, missing.json()["Messages"]) == (
        422, ["Bootenv john2 does not exist"])
    new = (await client.post("/machines", json={"Name": "m2", "Workflow": "move"})).json()
    assert (new["BootEnv"], new["Runnable"]) == ("env1", True)


async def test_content_versions_and_prerequisites(client: httpx.AsyncClient) -> None:
    """Recorded TestContentVersions: an uploaded pack is a ``dynamic`` layer; its version
    must be semantic (``v`` and short forms tolerated); prerequisites name layers with an
    optional range: a missing layer or a failed range is a warning, an unreadable range
    or version refuses the upload."""
    async def upload(version: str, prereqs: str) -> httpx.Response:
        return await client.put("/contents/basic", json={"meta": {
            "Name": "basic", "Version": version, "Prerequisites": prereqs, "Type": ""}})

    loaded = await upload("1.2.3", "BasicStore: >=3.12.0")
    assert loaded.status_code == 200, loaded.text
    assert (loaded.json()["meta"]["Type"], loaded.json()["Warnings"]) == ("dynamic", [])
    assert (await upload("1.2.3", "BasicStore: >=9.99.0")).json()["Warnings"] == [
        "Layer basic prerequisite test on BasicStore failed"]
    assert (await upload("0.1", "BasicStore: >=3.12.x")).json()["Warnings"] == []
    assert (await upload("v1.2.4", "foo, BasicStore: >=3.12.x")).json()["Warnings"] == [
        "Layer basic has foo as a prerequisite, but foo does not exist!"]
    bad = await upload("1.2.foo", "BasicStore: >=9.99.0")
    assert (bad.status_code, bad.json()["Type"], bad.json()["Messages"]) == (
        422, "PUT", ['Layer basic: invalid version 1.2.foo: Invalid character(s) found in '
                     'patch number "foo"'])
    bad = await upload("1.2.4", "BasicStore: >=3.12.foo")
    assert bad.json()["Messages"] == [
        'Layer basic: error parsing prerequisites BasicStore: >=3.12.foo: Invalid version '
        'requirement for BasicStore: Could not parse Range ">=3.12.foo": Could not parse '
        'version "3.12.foo" in ">=3.12.foo": Invalid character(s) found in patch number '
        '"foo"']
    shown = (await client.get("/contents/basic")).json()
    assert shown["meta"]["Version"] == "v1.2.4"


async def test_rbac_is_a_licensed_feature(client: httpx.AsyncClient) -> None:
    """recorded TestAuth: before the licence pack, ``roles create`` and ``tenants
    create`` are "LICENSE_EXCEEDED: rbac" with three messages; reading roles is not
    refused; with the pack loaded they are served, and without it again refused."""
    refused = await client.post("/roles", json={"Name": "foo", "Claims": []})
    assert (refused.status_code, refused.json()["Type"], refused.json()["Model"],
            refused.json()["Messages"]) == (403, "LICENSE_EXCEEDED", "rbac", [
                "rbac is a licensed enterprise feature.", "Contact support@rackn.com",
                "Access to /api/v3/roles denied"])
    tenant = await client.post("/tenants", json={"Name": "foo"})
    assert tenant.json()["Messages"][-1] == "Access to /api/v3/tenants denied"
    assert [r["Name"] for r in (await client.get("/roles")).json()] == ["superuser"]
    # a licence without rbac grants nothing here
    assert (await client.post("/contents", json=licenses.pack("secure-params"))
            ).status_code == 201
    assert (await client.post("/roles", json={"Name": "foo"})).status_code == 403
    assert (await client.delete("/contents/rackn-license")).status_code == 200
    await _licensed(client)
    assert (await client.post("/roles", json={"Name": "foo"})).status_code == 201
    assert (await client.post("/tenants", json={"Name": "foo"})).status_code == 201
    assert (await client.delete("/contents/rackn-license")).status_code == 200
    again = await client.delete("/roles/foo")
    assert (again.status_code, again.json()["Type"]) == (403, "LICENSE_EXCEEDED")


async def test_tenants_limit_what_their_users_see(drp: StandIn,
                                                  client: httpx.AsyncClient) -> None:
    """recorded TestAuth: a tenant's user sees, of each type ``Members`` names, only the
    listed objects, whatever its roles (a superuser: ``stages show none`` "Not Found",
    ``bootenvs list`` ``[]``); ``profiles``, not named, stay whole; an object it creates
    joins its tenant, a deleted one leaves every tenant; a hidden object is "already
    exists" to create and "Not Found" to delete; a tenant with users is not deleted
    ("StillInUseError: tenants/tenant1: Constraining Users: [t1-0 t1-3]")."""
    await _licensed(client)
    await client.post("/roles", json={"Name": "stage", "Claims": [
        {"Scope": "stages", "Action": "*", "Specific": "*"}]})
    for name in ("stage1", "stage2", "stage3"):
        await client.post("/stages", json={"Name": name})
    await client.post("/users", json={"Name": "t1-0", "Password": "foo", "Roles": ["stage"]})
    await client.post("/users", json={"Name": "t1-3", "Password": "foo",
                                      "Roles": ["superuser"]})
    await client.post("/users", json={"Name": "t2-0", "Password": "foo", "Roles": ["stage"]})
    every = {p: [] for p in ("bootenvs", "stages", "users", "tenants")}
    made = await client.post("/tenants", json={
        "Name": "tenant1", "Members": {**every, "stages": ["stage1", "stage3"]},
        "Users": ["t1-0", "t1-3"]})
    assert made.status_code == 201, made.text
    assert (await client.post("/tenants", json={
        "Name": "tenant2", "Members": {**every, "stages": ["stage2", "stage3"]},
        "Users": ["t2-0"]})).status_code == 201
    async with _as(drp, "t1-0", "foo") as t10, _as(drp, "t1-3", "foo") as t13:
        assert [s["Name"] for s in (await t10.get("/stages")).json()] == ["stage1", "stage3"]
        hidden = await t13.get("/stages/none")
        assert (hidden.status_code, hidden.json()["Messages"]) == (404, ["Not Found"])
        assert (await t13.get("/bootenvs")).json() == []
        assert (await t13.get("/users")).json() == []
        assert (await t13.get("/tenants")).json() == []
        assert "global" in [p["Name"] for p in (await t13.get("/profiles")).json()]
        exists = await t10.post("/stages", json={"Name": "stage2"})
        assert (exists.status_code, exists.json()["Messages"]) == (409, ["already exists"])
        gone = await t10.delete("/stages/stage2")
        assert (gone.status_code, gone.json()["Type"]) == (404, "DELETE")
        assert (await t10.delete("/stages/stage3")).status_code == 200
        assert (await t10.post("/stages", json={"Name": "stage3"})).status_code == 201
    members = {t["Name"]: t["Members"]["stages"] for t in (await client.get("/tenants")).json()}
    assert members == {"tenant1": ["stage1", "stage3"], "tenant2": ["stage2"]}
    in_use = await client.delete("/tenants/tenant1")
    assert (in_use.status_code, in_use.json()["Type"], in_use.json()["Messages"]) == (
        409, "StillInUseError", ["Constraining Users: [t1-0 t1-3]"])
    for user in ("t1-0", "t1-3"):
        assert (await client.delete(f"/users/{user}")).status_code == 200
    assert (await client.get("/tenants/tenant1")).json()["Users"] == []
    assert (await client.delete("/tenants/tenant1")).status_code == 200


async def test_tenant_checks(client: httpx.AsyncClient) -> None:
    """A tenant's ``Users`` exist and are in no other tenant; its ``Members`` name DRP
    object types (models/tenant.go ``Validate``)."""
    await _licensed(client)
    await client.post("/users", json={"Name": "ann"})
    assert (await client.post("/tenants", json={"Name": "a", "Users": ["ann"]})
            ).status_code == 201
    bad = await client.post("/tenants", json={
        "Name": "b", "Users": ["ann", "nobody"], "Members": {"cows": []}})
    assert (bad.status_code, bad.json()["Messages"]) == (422, [
        "Invalid member type 'cows': not a DRP object type", "User ann is already in tenant a",
        "User nobody does not exist"])
    assert (await client.put("/tenants/a", json={"Name": "a", "Users": ["ann"]})
            ).status_code == 200


async def test_a_content_change_labels_the_writable_objects(
        client: httpx.AsyncClient) -> None:
    """recorded TestSecureParams: machine ``bob``, created before the licence pack was
    uploaded, shows ``"Bundle": "BackingStore"`` after it; an object created later keeps
    ``""``, and read-only pack objects keep their pack."""
    await client.post("/machines", json={"Name": "bob"})
    assert (await client.get("/machines/Name:bob")).json()["Bundle"] == ""
    await _licensed(client)
    assert (await client.get("/machines/Name:bob")).json()["Bundle"] == "BackingStore"
    await client.post("/machines", json={"Name": "jim"})
    assert (await client.get("/machines/Name:jim")).json()["Bundle"] == ""
    assert (await client.get("/profiles/rackn-license")).json()["Bundle"] == "rackn-license"


async def test_list_and_map_field_filters(client: httpx.AsyncClient) -> None:
    """recorded TestMachineProfilesAndParams: on ``Profiles`` (a list) and ``Params`` (a
    map, by its keys) ``Eq(a,b)`` wants every one, ``Ne`` not every one, ``In`` any,
    ``Nin`` none."""
    for name in ("foo", "bar"):
        await client.post("/profiles", json={"Name": name})
    for name, profiles, params in (("bob", ["foo", "bar"], {"dog": 1, "bird": 1}),
                                   ("fred", ["bar"], {"cat": 1, "bird": 1}),
                                   ("julius", [], {"dog": 1, "cat": 1})):
        made = await client.post("/machines", json={"Name": name, "Profiles": profiles,
                                                    "Params": params})
        assert made.status_code == 201, made.text

    async def names(**query: str) -> list[str]:
        listed = await client.get("/machines", params={**query, "sort": "Name"})
        return [m["Name"] for m in listed.json()]

    assert await names(Profiles="Eq(foo,bar)") == ["bob"]
    assert await names(Profiles="Eq(bar)") == ["bob", "fred"]
    assert await names(Profiles="Ne(foo,bar)") == ["fred", "julius"]
    assert await names(Profiles="In(foo,bar)") == ["bob", "fred"]
    assert await names(Profiles="Nin(foo,bar)") == ["julius"]
    assert await names(Params="Eq(dog,cat)") == ["julius"]
    assert await names(Params="Ne(dog)") == ["fred"]


async def test_bootenv_valid_index_and_netboot_templates(client: httpx.AsyncClient) -> None:
    """recorded TestBootEnvCli: ``Valid`` filters on ``Validated`` ("Valid must be true or
    false"); a boot environment with a Kernel and no pxelinux/ipxe template is stored but
    not Available ("bootenv: Missing elilo or pxelinux template")."""
    valid = await client.get("/bootenvs", params={"Valid": "true"})
    assert [b["Name"] for b in valid.json()] == ["ignore", "local"]
    assert (await client.get("/bootenvs", params={"Valid": "false"})).json() == []
    bad = await client.get("/bootenvs", params={"Valid": "fred"})
    assert (bad.status_code, bad.json()["Messages"]) == (406, ["Valid must be true or false"])
    john = await client.post("/bootenvs", json={"Name": "john", "Kernel": "lpxelinux.0"})
    assert john.status_code == 201
    assert (john.json()["Available"], john.json()["Validated"], john.json()["Errors"]) == (
        False, True, ["bootenv: Missing elilo or pxelinux template"])
    fixed = await client.put("/bootenvs/john", json={
        "Name": "john", "Kernel": "lpxelinux.0",
        "Templates": [{"Name": "ipxe", "Path": "x.ipxe", "Contents": "#!ipxe\n"}]})
    assert (fixed.json()["Available"], fixed.json()["Errors"]) == (True, [])


async def test_content_packs_as_recorded(client: httpx.AsyncClient) -> None:
    """recorded TestContentCli: a missing pack is "No such content store" (GET and
    DELETE), a second create "Content john already exists"; a pack whose objects name
    templates by ``ID`` that exist nowhere loads nothing and lists each ("Failed to load
    backing objects from cache", "Templates[0]: No common template for ...")."""
    missing = await client.get("/contents/john2")
    assert (missing.status_code, missing.json()["Type"], missing.json()["Messages"]) == (
        404, "GET", ["No such content store"])
    assert (await client.delete("/contents/john2")).json()["Type"] == "DELETE"
    assert (await client.post("/contents", json={"meta": {"Name": "john"}})).status_code == 201
    again = await client.post("/contents", json={"meta": {"Name": "john"}})
    assert (again.status_code, again.json()["Type"], again.json()["Messages"]) == (
        409, "POST", ["Content john already exists"])
    pack = {"meta": {"Name": "contrib"}, "sections": {
        "templates": {"own.tmpl": {"ID": "own.tmpl", "Contents": "x"}},
        "bootenvs": {"b1": {"Name": "b1", "Templates": [
            {"Name": "pxelinux", "Path": "p", "ID": "default-pxelinux.tmpl"},
            {"Name": "own", "Path": "o", "ID": "own.tmpl"},
            {"Name": "ipxe", "Path": "i", "ID": "default-ipxe.tmpl"}]}}}}
    refused = await client.post("/contents", json=pack)
    assert (refused.status_code, refused.json()["Type"], refused.json()["Messages"]) == (
        422, "Failed to load backing objects from cache", [
            "Templates[0]: No common template for default-pxelinux.tmpl",
            "Templates[2]: No common template for default-ipxe.tmpl"])
    assert (await client.get("/bootenvs/b1")).status_code == 404
    assert (await client.get("/templates/own.tmpl")).status_code == 404
    direct = await client.post("/bootenvs", json=pack["sections"]["bootenvs"]["b1"])
    assert (direct.status_code, direct.json()["Messages"][0]) == (
        422, "Templates[0]: No common template for default-pxelinux.tmpl")


async def test_a_pack_is_shown_as_its_layer_keeps_it(client: httpx.AsyncClient) -> None:
    """recorded TestContentCli ``contents show withProfile --key``: the pack's objects with
    validation cleared and secure params decoded (drpcli seals them again with its own
    key: the ``secure-params-in-content-packs`` feature)."""
    assert "secure-params-in-content-packs" in (await client.get("/info")).json()["features"]
    pack = {"meta": {"Name": "withProfile"}, "sections": {
        "params": {"secureFoo": {"Name": "secureFoo", "Secure": True,
                                 "Schema": {"type": "string"}}},
        "profiles": {"englobal": {"Name": "englobal",
                                  "Params": {"foo": "bar", "secureFoo": "secureBar"}}}}}
    assert (await client.post("/contents", json=pack)).status_code == 201
    sealed = (await client.get("/profiles/englobal")).json()["Params"]["secureFoo"]
    assert set(sealed) == {"Key", "Nonce", "Payload"}
    shown = (await client.get("/contents/withProfile")).json()["sections"]
    profile = shown["profiles"]["englobal"]
    assert profile["Params"] == {"foo": "bar", "secureFoo": "secureBar"}
    assert (profile["Available"], profile["Validated"], profile["ReadOnly"]) == (
        False, False, False)
    assert "Errors" not in profile and shown["params"]["secureFoo"]["Secure"] is True


async def test_machine_actions_params_and_default_workflow(
        drp: StandIn, client: httpx.AsyncClient, fake: dict[str, Any]) -> None:
    """recorded TestMachineCli: a machine lists an action only while it has the action's
    required params, and showing it otherwise is "Action need Missing Parameter
    fake/step"; ``--aggregate`` params take the stage's params and profiles too.
    Recorded TestWorkflowCli: ``defaultWorkflow`` must name a workflow ("defaultWorkflow:
    Workflow foo does not exist"), and a new machine takes it."""
    await client.post("/plugins", json={"Name": "fake", "Provider": "fake"})
    uid = (await client.post("/machines", json={"Name": "m1"})).json()["Uuid"]
    offered = [a["Command"] for a in (await client.get(f"/machines/{uid}/actions")).json()]
    assert "echo" in offered and "need" not in offered
    missing = await client.get(f"/machines/{uid}/actions/need")
    assert (missing.json()["Type"], missing.json()["Messages"]) == (
        "GET", ["Action need Missing Parameter fake/step"])
    assert (await client.post(f"/machines/{uid}/params/fake/step", json=2)).status_code == 200
    offered = [a["Command"] for a in (await client.get(f"/machines/{uid}/actions")).json()]
    assert "need" in offered
    await client.post("/profiles", json={"Name": "stage-prof", "Params": {"sp-param": "val"}})
    await client.post("/stages", json={"Name": "stage2", "Profiles": ["stage-prof"],
                                       "Params": {"sp-direct-param": "val2"}})
    await client.patch(f"/machines/{uid}", json=[
        {"op": "replace", "path": "/Stage", "value": "stage2"}])
    merged = (await client.get(f"/machines/{uid}/params",
                               params={"aggregate": "true"})).json()
    assert (merged["sp-param"], merged["sp-direct-param"]) == ("val", "val2")
    bad = await client.post("/prefs", json={"defaultWorkflow": "foo"})
    assert bad.json()["Messages"] == ["defaultWorkflow: Workflow foo does not exist"]
    await client.post("/stages", json={"Name": "james", "BootEnv": "ignore"})
    await client.post("/workflows", json={"Name": "wf3", "Stages": ["james"]})
    assert (await client.post("/prefs", json={"defaultWorkflow": "wf3"})).status_code == 200
    m4 = (await client.post("/machines", json={"Name": "m4"})).json()
    assert (m4["Workflow"], m4["Stage"], m4["BootEnv"]) == ("wf3", "james", "ignore")
    in_use = await client.delete("/workflows/wf3")
    assert in_use.json()["Messages"] == ["Workflow wf3 is the active defaultWorkflow, "
                                         "cannot remove it"]


async def test_task_prerequisites(client: httpx.AsyncClient) -> None:
    """recorded TestTaskPrereqs and TestTasksInContentBundles: a machine's task list gets
    each task's prerequisites first, once per boot (a workflow stage with a bootenv runs
    them again); a missing one is refused; a cycle is refused when written and when a
    pack brings it."""
    for name in ("foo1", "foo2", "foo3", "foo4", "foo5"):
        await client.post("/tasks", json={"Name": name})
    await client.post("/tasks", json={"Name": "bar1", "Prerequisites": ["foo1", "foo2"]})
    await client.post("/tasks", json={"Name": "bar3", "Prerequisites": ["foo4", "foo5"]})
    await client.post("/tasks", json={"Name": "bar4", "Prerequisites": ["bar3", "foo1"]})
    await client.post("/stages", json={"Name": "flat1", "Tasks": ["foo1", "bar1", "bar4"]})
    await client.post("/stages", json={"Name": "flat2", "BootEnv": "local",
                                       "Tasks": ["bar1"]})
    uid = (await client.post("/machines", json={"Name": "bob"})).json()["Uuid"]
    staged = (await client.patch(f"/machines/{uid}", json=[
        {"op": "replace", "path": "/Stage", "value": "flat1"}])).json()
    assert staged["Tasks"] == ["foo1", "foo2", "bar1", "foo4", "foo5", "bar3", "bar4"]
    await client.post("/workflows", json={"Name": "wf", "Stages": ["flat1", "flat1",
                                                                   "flat2"]})
    flowed = (await client.patch(f"/machines/{uid}", json=[
        {"op": "replace", "path": "/Workflow", "value": "wf"}])).json()
    assert flowed["Tasks"] == [
        "stage:flat1", "foo1", "foo2", "bar1", "foo4", "foo5", "bar3", "bar4",
        "stage:flat1", "foo1", "bar1", "bar4",
        "stage:flat2", "bootenv:local", "foo1", "foo2", "bar1"]
    cycle = await client.put("/tasks/foo1", json={"Name": "foo1", "Prerequisites": ["bar4"]})
    assert cycle.json()["Messages"] == ["Task foo1 depends on itself!",
                                        "foo1: bar4: foo1 (cycle at 0)"]
    await client.patch(f"/machines/{uid}", json=[{"op": "replace", "path": "/Workflow",
                                                  "value": ""}])
    assert (await client.delete("/tasks/foo2")).status_code == 200
    missing = await client.patch(f"/machines/{uid}", json=[
        {"op": "replace", "path": "/Stage", "value": "flat2"}])
    assert missing.json()["Messages"] == ["Task bar1 missing prerequisite foo2"]
    forker = {"meta": {"Name": "forker"}, "sections": {"tasks": {
        "t1": {"Name": "t1", "Prerequisites": ["t2", "t4"]},
        "t2": {"Name": "t2", "Prerequisites": ["t3"]},
        "t3": {"Name": "t3", "Prerequisites": ["t2"]},
        "t4": {"Name": "t4", "Prerequisites": ["t4", "gone"]}}}}
    refused = await client.post("/contents", json=forker)
    assert (refused.json()["Type"], refused.json()["Messages"]) == (
        "Failed to load backing objects from cache", [
            "Task t4 missing prerequisite gone",
            "Task t2 depends on a task with a circular dependency",
            "t1: t2: t3: t2 (cycle at 1)",
            "Task t4 depends on a task with a circular dependency",
            "t1: t4: t4 (cycle at 1)",
            "Task t2 depends on itself!", "t2: t3: t2 (cycle at 0)",
            "Task t3 depends on itself!", "t3: t2: t3 (cycle at 0)",
            "Task t4 depends on itself!", "t4: t4 (cycle at 0)"])
    assert (await client.get("/tasks/t1")).status_code == 404


async def test_jobs_as_recorded(client: httpx.AsyncClient) -> None:
    """recorded TestJobCli: a created or running job is not deleted ("Jobs <uuid> is not
    in a deletable state: created"); a state outside models/job.go's is "Invalid State
    `fred`"; a time filter must be RFC 3339, worded as Go's time.Parse."""
    await client.post("/tasks", json={"Name": "task1"})
    await client.post("/stages", json={"Name": "stage3", "Tasks": ["task1"]})
    uid = (await client.post("/machines", json={"Name": "john", "Stage": "stage3"})).json()[
        "Uuid"]
    job_id = "00000000-0000-0000-0000-000000000001"
    job = (await client.post("/jobs", json={"Uuid": job_id, "Machine": uid})).json()
    assert job["Uuid"] == job_id
    kept = await client.delete(f"/jobs/{job_id}")
    assert (kept.status_code, kept.json()["Messages"]) == (
        422, [f"Jobs {job_id} is not in a deletable state: created"])
    bad = await client.put(f"/jobs/{job_id}", json={**job, "State": "fred"})
    assert bad.json()["Messages"] == ["Invalid State `fred`"]
    listed = await client.get("/jobs", params={"StartTime": "fred"})
    assert (listed.status_code, listed.json()["Messages"]) == (406, [
        'parsing time "fred" as "2006-01-02T15:04:05Z07:00": cannot parse "fred" as "2006"'])
    assert (await client.get("/jobs", params={"EndTime": "2001-13-01T00:00:00Z"})).json()[
        "Messages"] == ['parsing time "2001-13-01T00:00:00Z": month out of range']
    assert (await client.get("/jobs", params={"StartTime": "0001-01-01T00:00:00Z"})
            ).status_code == 200
    await client.put(f"/jobs/{job_id}", json={**job, "State": "failed"})
    assert (await client.delete(f"/jobs/{job_id}")).status_code == 200


async def test_a_validation_message_is_given_once(client: httpx.AsyncClient) -> None:
    """recorded TestProfileFileImport: "ValidationError: profiles/<name>: Invalid Name
    `<name>`", once (a key with a slash failed two checks, each said so)."""
    bad = await client.post("/profiles", json={"Name": "test-data/base/profiles/bad.yaml"})
    assert bad.json()["Messages"] == ["Invalid Name `test-data/base/profiles/bad.yaml`"]


async def test_content_layers_as_recorded(client: httpx.AsyncClient) -> None:
    """recorded TestContentsFunctionalCli: a pack object of the wrong JSON kind fails
    with Go's unmarshal error; a key another pack holds is refused (layer 1 is the first
    pack above the writable layer); replacing a pack without a profile a machine holds
    loads, with DRP's warning."""
    bad = await client.post("/contents", json={"meta": {"Name": "PackBad"}, "sections": {
        "profiles": {"p1-bad": {"Description": "packbad", "Params": 12}}}})
    assert (bad.status_code, bad.json()["Type"], bad.json()["Messages"]) == (
        422, "Failed to load backing objects from cache", [
            "Store profiles item p1-bad failed to load from layer content-PackBad: json: "
            "cannot unmarshal number into Go struct field Profile.Params of type "
            "map[string]interface {}", "Try manually replacing content layer PackBad"])
    pack1 = {"meta": {"Name": "Pack1"},
             "sections": {"profiles": {"p1-prof": {"Name": "p1-prof"}}}}
    assert (await client.post("/contents", json=pack1)).status_code == 201
    taken = await client.post("/contents", json={"meta": {"Name": "Pack2"}, "sections": {
        "profiles": {"p1-prof": {"Name": "p1-prof", "Description": "pack2"}}}})
    assert (taken.status_code, taken.json()["Type"], taken.json()["Messages"]) == (
        409, "STORE_ERROR", ["New layer violates key restrictions: keysCannotBeOverridden: "
                             "p1-prof is already in layer 1"])
    await client.post("/machines", json={"Name": "greg", "Profiles": ["p1-prof"]})
    broken = await client.put("/contents/Pack1", json={"meta": {"Name": "Pack1"}, "sections": {
        "profiles": {"p2-prof": {"Name": "p2-prof", "Params": 12}}}})
    assert (broken.json()["Type"], broken.json()["Key"]) == ("PUT", "Pack1")
    replaced = await client.put("/contents/Pack1", json={"meta": {"Name": "Pack1"},
                                                         "sections": {"profiles": {
                                                             "p2-prof": {"Name": "p2-prof"}}}})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["Warnings"] == ["Profile p1-prof (at 0) does not exist"]
    assert (await client.get("/profiles/p1-prof")).status_code == 404


async def test_a_long_prerequisite_chain(client: httpx.AsyncClient) -> None:
    """Prerequisites are followed without recursion: a chain of 3,000 tasks loads and
    expands (each task needs the next), and a cycle at its far end is still found."""
    count = 3000
    chain = {f"t{i}": {"Name": f"t{i}", "Prerequisites": [f"t{i + 1}"] if i + 1 < count else []}
             for i in range(count)}
    loaded = await client.post("/contents", json={"meta": {"Name": "chain"},
                                                  "sections": {"tasks": chain}})
    assert loaded.status_code == 201, loaded.text[:300]
    await client.post("/stages", json={"Name": "deep", "Tasks": ["t0"]})
    uid = (await client.post("/machines", json={"Name": "m", "Stage": "deep"})).json()["Uuid"]
    tasks = (await client.get(f"/machines/{uid}")).json()["Tasks"]
    assert tasks == [f"t{i}" for i in reversed(range(count))]
    chain[f"t{count - 1}"]["Prerequisites"] = ["t0"]
    looped = await client.post("/contents", json={"meta": {"Name": "loop"}, "sections": {
        "tasks": {k.replace("t", "u"): {"Name": k.replace("t", "u"), "Prerequisites": [
            p.replace("t", "u") for p in v["Prerequisites"]]} for k, v in chain.items()}}})
    assert looped.status_code == 422
    messages = looped.json()["Messages"]
    assert messages[0] == "Task u0 depends on itself!"
    assert messages[-1].endswith("(DRP_PLUGIN_STANDIN_MAX_FAULT_BYTES)")  # 1 MiB of them
