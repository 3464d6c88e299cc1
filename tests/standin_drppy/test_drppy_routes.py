"""Every route the stand-in serves, called through drppy-client's generated API classes.

Each reply is deserialized by drppy into its swagger model with client-side validation
on, so a missing required field fails the call (``Invalid value for `dns_enabled`,
must not be `None```: issue 13 item 1).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from drppy_client.api.events_api import EventsApi
from drppy_client.api.files_api import FilesApi
from drppy_client.api.info_api import InfoApi
from drppy_client.api.machines_api import MachinesApi
from drppy_client.api.meta_api import MetaApi
from drppy_client.api.objects_api import ObjectsApi
from drppy_client.api.params_api import ParamsApi
from drppy_client.api.plugin_providers_api import PluginProvidersApi
from drppy_client.api.plugins_api import PluginsApi
from drppy_client.api.profiles_api import ProfilesApi
from drppy_client.api.raw_model_api import RawModelApi
from drppy_client.api.system_api import SystemApi
from drppy_client.api.templates_api import TemplatesApi
from drppy_client.api.users_api import UsersApi
from drppy_client.api_client import ApiClient
from drppy_client.models.info import Info
from drppy_client.models.machine import Machine
from drppy_client.models.param import Param
from drppy_client.models.plugin import Plugin
from drppy_client.models.plugin_provider import PluginProvider
from drppy_client.models.profile import Profile
from drppy_client.models.template import Template
from drppy_client.models.user_token import UserToken
from drppy_client.rest import ApiException

from drp_plugin.standin import StandInThread


@pytest.fixture(scope="module")
def fake(standin: StandInThread, api: ApiClient, fake_provider_file: Path) -> str:
    """The stdlib fake provider uploaded through drppy, and its Plugin ``fake`` running."""
    PluginProvidersApi(api).upload_plugin_provider("fake", body=fake_provider_file.read_text())
    PluginsApi(api).create_plugin({"Name": "fake", "Provider": "fake"})
    standin.wait_event(lambda e: e.get("Type") == "plugins" and e.get("Action") == "configed"
                       and e.get("Key") == "fake", timeout=60)
    return "fake"


def test_info_deserializes(api: ApiClient, standin: StandInThread) -> None:
    """Info needs dns_enabled, dns_port, ha_consensus_id and uuid (drppy models/info.py)."""
    info = InfoApi(api).get_info()
    assert isinstance(info, Info)
    assert info.api_port == int(standin.endpoint.rsplit(":", 1)[1])
    assert info.dns_enabled is False and info.dns_port == 0
    uuid.UUID(info.uuid)
    assert info.license.licenses == [] and info.cluster_state.enabled is False


def test_user_token_deserializes(standin: StandInThread,
                                 client_factory: Callable[..., ApiClient]) -> None:
    """``GET /users/<u>/token`` (basic auth) gives a UserToken whose Info is complete."""
    basic = client_factory(standin, basic=("rocketskates", "r0cketsk8ts"))
    # drppy 4.17.0's UsersApi.get_user_token sends the name as a query parameter and
    # leaves "{name}" in the path (it would 404 on a real DRP too), so the call is made
    # through drppy's ApiClient with the path parameter, and drppy deserializes it.
    token = basic.call_api("/users/{name}/token", "GET", path_params={"name": "rocketskates"},
                           query_params=[("ttl", 60)], header_params={"Accept": "application/json"},
                           response_type="UserToken", auth_settings=["basicAuth"],
                           _return_http_data_only=True)
    assert isinstance(token, UserToken) and isinstance(token.info, Info)
    assert ObjectsApi(client_factory(standin, token.token)).list_objects()


def test_objects_and_events(api: ApiClient, standin: StandInThread) -> None:
    assert "machines" in ObjectsApi(api).list_objects()
    since = standin.call(_next_index, standin)
    EventsApi(api).post_event(body={"Type": "drppy", "Action": "poke", "Key": "k1"})
    event = standin.wait_event("drppy.poke.k1", timeout=10, since=since)
    assert event["Principal"] == "rocketskates"


async def _next_index(standin: StandInThread) -> int:
    return standin.standin.hub.next_index


def test_machines_crud_params_and_counts(api: ApiClient) -> None:
    machines = MachinesApi(api)
    created = machines.create_machine({"Name": "drppy-m1", "Address": "10.0.0.3"})
    assert isinstance(created, Machine) and created.name == "drppy-m1"
    key = created.uuid
    assert machines.get_machine(key).uuid == key
    assert machines.get_machine("Name:drppy-m1").uuid == key
    machines.head_machine(key)
    assert any(m.uuid == key for m in machines.list_machines())
    stats = {s.name: s.count for s in machines.list_stats_machines(name="drppy-m1")}
    assert stats == {"count": 1, "filter-count": 1, "total-count": stats["total-count"]}
    patched = machines.patch_machine([{"op": "replace", "path": "/Description",
                                       "value": "patched"}], key)
    assert patched.description == "patched"
    whole = machines.get_machine(key).to_dict()
    put = machines.put_machine({"Name": "drppy-m1", "Uuid": key, "Description": "put"}, key)
    assert put.description == "put" and whole["uuid"] == key
    ParamsApi(api).create_param({"Name": "drppy/count", "Schema": {"type": "integer"}})
    machines.post_machine_param(3, key, "drppy/count")  # drppy's override returns None
    assert machines.get_machine_param(key, "drppy/count") == 3
    assert machines.get_machine_params(key)["drppy/count"] == 3
    machines.patch_machine_params([{"op": "add", "path": "/drppy~1count", "value": 4}], key)
    assert machines.post_machine_params({"drppy/count": 5}, key) == {"drppy/count": 5}
    assert machines.delete_machine_param(key, "drppy/count") == 5
    assert isinstance(machines.get_machine_pub_key(key), str)
    assert machines.get_machine_actions(key) == []
    deleted = machines.delete_machine(key)
    assert deleted.uuid == key
    with pytest.raises(ApiException) as missing:
        machines.get_machine(key)
    assert missing.value.status == 404


def test_profiles_params_templates(api: ApiClient) -> None:
    profiles = ProfilesApi(api)
    created = profiles.create_profile({"Name": "drppy-p", "Params": {}})
    assert isinstance(created, Profile)
    assert profiles.get_profile("global").name == "global"
    assert all(isinstance(p, Profile) for p in profiles.list_profiles())
    profiles.post_profile_param("x", "drppy-p", "drppy/free")
    assert profiles.get_profile_param("drppy-p", "drppy/free") == "x"
    assert profiles.get_profile_params("drppy-p") == {"drppy/free": "x"}
    assert isinstance(profiles.get_profile_pub_key("drppy-p"), str)
    profiles.delete_profile("drppy-p")

    params = ParamsApi(api)
    made = params.create_param({"Name": "drppy/slashed", "Schema": {"type": "string"}})
    assert isinstance(made, Param)
    assert params.get_param("drppy/slashed").name == "drppy/slashed"
    assert params.patch_param([{"op": "replace", "path": "/Description", "value": "d"}],
                              "drppy/slashed").description == "d"
    assert any(p.name == "drppy/slashed" for p in params.list_params())
    params.delete_param("drppy/slashed")

    templates = TemplatesApi(api)
    made_t = templates.create_template({"ID": "drppy.tmpl", "Contents": "{{.Machine.Name}}"})
    assert isinstance(made_t, Template)
    assert templates.get_template("drppy.tmpl").contents == "{{.Machine.Name}}"
    assert any(t.id == "drppy.tmpl" for t in templates.list_templates())
    templates.delete_template("drppy.tmpl")


def test_meta(api: ApiClient) -> None:
    """``GET /meta/<prefix>/<key>`` (drpcli ``<type> meta``)."""
    ProfilesApi(api).create_profile({"Name": "drppy-meta", "Meta": {"color": "blue"}})
    assert MetaApi(api).get_meta("profiles", "drppy-meta") == {"color": "blue"}


def test_files(api: ApiClient) -> None:
    files = FilesApi(api)
    info = files.upload_file("drppy/hello.txt", body="hello from drppy")
    assert info.path == "/drppy/hello.txt" and info.size == 16
    assert "drppy/" in files.list_files()
    assert files.get_file("drppy/hello.txt") == "hello from drppy"
    files.head_file("drppy/hello.txt")
    files.delete_file("drppy/hello.txt")
    with pytest.raises(ApiException) as missing:
        files.get_file("drppy/hello.txt")
    assert missing.value.status == 404


def test_plugin_providers_plugins_and_actions(api: ApiClient, fake: str) -> None:
    providers = PluginProvidersApi(api)
    listed = providers.list_plugin_providers()
    assert [p.name for p in listed if isinstance(p, PluginProvider)] == ["fake"]
    shown = providers.get_plugin_provider("fake")
    assert shown.version == "v1.2.3" and shown.plugin_version == 4
    providers.head_plugin_provider("fake")
    binary = providers.get_plugin_provider_binary("fake", _preload_content=False)
    assert binary.data.startswith(b"#!/usr/bin/env python3")

    plugins = PluginsApi(api)
    plugin = plugins.get_plugin("fake")
    assert isinstance(plugin, Plugin) and plugin.plugin_errors == []
    assert any(a.command == "plugin-info" for a in plugins.get_plugin_actions("fake"))
    assert plugins.get_plugin_action("fake", "plugin-info").command == "plugin-info"
    assert plugins.post_plugin_action("fake", "plugin-info", {})["Model"]["Name"] == "fake"

    system = SystemApi(api)
    assert [a.command for a in system.get_system_actions()] == ["status"]
    assert system.get_system_action("status").model == ""
    assert system.post_system_action("status", {}) is not None

    machines = MachinesApi(api)
    key = machines.create_machine({"Name": "drppy-act"}).uuid
    assert machines.get_machine_action(key, "echo").command == "echo"
    echoed = machines.post_machine_action(key, "echo", {"fake/step": 2})
    assert echoed["Params"]["fake/step"] == 2

    raw = RawModelApi(api)
    cow = raw.create("fake-cows", {"Id": "drppy-cow", "Type": "fake-cows", "Spotted": False})
    assert cow["Id"] == "drppy-cow"
    assert [c["Id"] for c in raw.list("fake-cows", "Id", "Eq", "drppy-cow")] == ["drppy-cow"]
    assert raw.show("fake-cows", "drppy-cow")["Spotted"] is False
    raw.delete("fake-cows", "drppy-cow")


def test_secure_param_sealed_by_drppy(api: ApiClient, fake: str, standin: StandInThread) -> None:
    """drppy seals a Secure param with the object's pubkey (custom_overrides
    ``SecureData.seal``: NaCl box, ephemeral key); the stand-in opens it, as DRP does
    (models/secureData.go ``SecureData.Open``)."""
    machines = MachinesApi(api)
    key = machines.create_machine({"Name": "drppy-secure"}).uuid
    RawModelApi(api).set_param("machines", key, "fake/secret", "s3cret")
    assert standin.get("machines", key)["Params"]["fake/secret"] == "s3cret"
    shown = machines.get_machine_param(key, "fake/secret")
    assert set(shown) == {"Key", "Nonce", "Payload"} and "s3cret" not in json.dumps(shown)
    assert machines.get_machine_param(key, "fake/secret", decode=True) == "s3cret"


def test_long_poll_through_drppy(api: ApiClient, standin: StandInThread,
                                 client_factory: Callable[..., ApiClient]) -> None:
    """``If-None-Match`` + ``Prefer: wait=`` waits for a change (api/client.go ``R.Wait``;
    cli/commandHelper.go ``show --wait``) and answers the new object; drppy sends the
    headers as default headers of a client."""
    machines = MachinesApi(api)
    key = machines.create_machine({"Name": "drppy-wait"}).uuid
    _, status, headers = machines.head_machine_with_http_info(key)
    assert status == 200 and headers["ETag"]
    waiting = client_factory(standin)
    waiting.set_default_header("If-None-Match", headers["ETag"])
    waiting.set_default_header("Prefer", "wait=30s")

    def later() -> None:
        time.sleep(0.3)
        machines.patch_machine([{"op": "replace", "path": "/Description", "value": "x"}], key)

    changer = threading.Thread(target=later)
    changer.start()
    try:
        changed = MachinesApi(waiting).get_machine(key, _request_timeout=60)
    finally:
        changer.join(30)
    assert changed.description == "x"


def test_tasks_stages_bootenvs_workflows_jobs(api: ApiClient) -> None:
    """Stored, validated objects (issue 13 item 11): drppy's Task, Stage and BootEnv
    models mark Templates, RequiredParams, Kernel, Loaders... required."""
    from drppy_client.api.boot_envs_api import BootEnvsApi
    from drppy_client.api.jobs_api import JobsApi
    from drppy_client.api.stages_api import StagesApi
    from drppy_client.api.tasks_api import TasksApi
    from drppy_client.api.workflows_api import WorkflowsApi

    assert TasksApi(api).create_task({"Name": "drppy-task"}).name == "drppy-task"
    assert any(t.name == "drppy-task" for t in TasksApi(api).list_tasks())
    assert BootEnvsApi(api).create_boot_env({"Name": "drppy-env"}).kernel == ""
    stage = StagesApi(api).create_stage({"Name": "drppy-stage", "Tasks": ["drppy-task"]})
    assert stage.tasks == ["drppy-task"]
    flow = WorkflowsApi(api).create_workflow({"Name": "drppy-flow", "Stages": ["drppy-stage"]})
    assert flow.stages == ["drppy-stage"]
    key = MachinesApi(api).create_machine({"Name": "drppy-jobs"}).uuid
    job = JobsApi(api).create_job({"Machine": key, "Task": "drppy-task"})
    assert job.state == "created" and JobsApi(api).get_job(job.uuid).machine == key
    # the job is its machine's current job, with a log (issue 23 item 3)
    assert MachinesApi(api).get_machine(key).current_job == job.uuid
    assert JobsApi(api).get_job_log(job.uuid) == f"Log for Job: {job.uuid}\n"
    with pytest.raises(ApiException) as bad:
        TasksApi(api).create_task({"Name": "{asdgasdg"})
    assert bad.value.status == 422


def test_users_prefs_machine_token(api: ApiClient, standin: StandInThread,
                                   client_factory: Callable[..., ApiClient]) -> None:
    """``users`` list/show/create/password, ``prefs``, ``/machines/<id>/token`` (issue 13
    item 11), deserialized by drppy (User needs Name; UserToken an Info)."""
    from drppy_client.api.prefs_api import PrefsApi
    from drppy_client.models.user import User

    users = UsersApi(api)
    assert [u.name for u in users.list_users()] == ["rocketskates"]
    made = users.create_user({"Name": "fred"})
    assert isinstance(made, User) and users.get_user("fred").name == "fred"
    with pytest.raises(ApiException) as early:   # no password yet: no login
        ObjectsApi(client_factory(standin, basic=("fred", ""))).list_objects()
    assert early.value.status == 401
    api.call_api("/users/{name}/password", "PUT", path_params={"name": "fred"},
                 body={"Password": "fred"}, header_params={"Content-Type": "application/json"},
                 auth_settings=["Bearer"], _return_http_data_only=True)
    assert ObjectsApi(client_factory(standin, basic=("fred", "fred"))).list_objects()
    with pytest.raises(ApiException) as bad:
        users.create_user({"Name": "{asdgasdg"})
    assert bad.value.status == 422

    prefs = PrefsApi(api)
    assert prefs.list_prefs()["defaultStage"] == "none"
    assert prefs.set_prefs(body={"drppy": "yes"})["drppy"] == "yes"

    machines = MachinesApi(api)
    key = machines.create_machine({"Name": "drppy-token"}).uuid
    token = machines.get_machine_token(key)
    assert isinstance(token, UserToken) and isinstance(token.info, Info)
    as_machine = MachinesApi(client_factory(standin, token.token))
    assert as_machine.get_machine(key).name == "drppy-token"
    other = machines.create_machine({"Name": "drppy-other"}).uuid
    with pytest.raises(ApiException) as refused:
        as_machine.get_machine(other)
    assert refused.value.status == 403


def test_contents(api: ApiClient, fake: str) -> None:
    """``/contents``: a content pack loads as read-only objects and shows with the
    providers' content layers (drppy ContentSummary; ContentMetaData needs Name)."""
    from drppy_client.api.contents_api import ContentsApi
    from drppy_client.api.tasks_api import TasksApi

    contents = ContentsApi(api)
    pack = {"meta": {"Name": "drppy-pack", "Version": "v1.0.0"},
            "sections": {"params": {"pack/p": {"Name": "pack/p"}},
                         "tasks": {"pack-task": {"Name": "pack-task"}},
                         "subnets": {"s1": {"Name": "s1"}}}}
    loaded = contents.create_content(body=pack)
    assert loaded.meta.name == "drppy-pack" and loaded.counts == {"params": 1, "tasks": 1}
    assert loaded.warnings and "subnets" in loaded.warnings[0]
    names = {c.meta.name for c in contents.list_contents()}
    assert {"drppy-pack", "fake"} <= names
    param = ParamsApi(api).get_param("pack/p")
    assert param.read_only is True and param.bundle == "drppy-pack"
    with pytest.raises(ApiException) as again:
        contents.create_content(body=pack)
    assert again.value.status == 409
    shown = contents.get_content("drppy-pack")
    assert shown.meta.name == "drppy-pack" and set(shown.sections) == {"params", "tasks"}
    smaller = {"meta": pack["meta"], "sections": {"params": pack["sections"]["params"]}}
    assert contents.upload_content(body=smaller, name="drppy-pack").counts == {"params": 1}
    with pytest.raises(ApiException) as no_task:
        TasksApi(api).get_task("pack-task")
    assert no_task.value.status == 404
    contents.delete_content("drppy-pack")
    with pytest.raises(ApiException) as gone:
        ParamsApi(api).get_param("pack/p")
    assert gone.value.status == 404


def test_zz_plugin_and_provider_removal(api: ApiClient, fake: str) -> None:
    """Last in this module (it removes the shared provider): Plugin params, update and
    delete, then ``DELETE /plugin_providers/<name>``, which takes its content away."""
    plugins = PluginsApi(api)
    assert plugins.get_plugin_params("fake") == {}
    patched = plugins.patch_plugin([{"op": "replace", "path": "/Description",
                                     "value": "patched"}], "fake")
    assert patched.description == "patched"
    assert plugins.delete_plugin("fake").name == "fake"
    providers = PluginProvidersApi(api)
    providers.delete_plugin_provider("fake")
    assert providers.list_plugin_providers() == []
    with pytest.raises(ApiException) as gone:
        ParamsApi(api).get_param("fake/step")
    assert gone.value.status == 404


def test_whoami(api: ApiClient, standin: StandInThread,
                client_factory: Callable[..., ApiClient]) -> None:
    """``POST /whoami`` finds the machine a Whoami describes and hands it a machine
    token (drppy ``WhoamiApi.fill_whoami``; the score itself is the stand-in's own)."""
    from drppy_client.api.whoami_api import WhoamiApi

    machines = MachinesApi(api)
    key = machines.create_machine({"Name": "drppy-who",
                                   "HardwareAddrs": ["52:54:00:aa:bb:cc"]}).uuid
    found = WhoamiApi(api).fill_whoami(body={"MacAddrs": ["52:54:00:AA:BB:CC"],
                                             "Fingerprint": {}, "OnDiskUUID": ""})
    assert found.result.uuid == key and found.result.score == 25
    assert MachinesApi(client_factory(standin, found.result.token)).get_machine(key).name \
        == "drppy-who"
    nobody = WhoamiApi(api).fill_whoami(body={"MacAddrs": ["00:00:00:00:00:01"],
                                              "Fingerprint": {}, "OnDiskUUID": ""})
    assert not nobody.result.uuid
