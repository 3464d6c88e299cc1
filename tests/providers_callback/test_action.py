"""callbackDo end to end: the provider under the stand-in, a real HTTP endpoint on loopback."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from drp_plugin.errors import PluginError
from drp_plugin.testing.fixtures import StandInClient

from .conftest import Start
from .servers import Recorder


def do(plugin: Any, name: str, on: str = "m1.example.com", **params: Any) -> Any:
    return plugin.action("callbackDo", on=on, params={"callback/action": name, **params})


@pytest.mark.slow
def test_machine_body_empty_method_is_post_and_base64_answer(
        start_callback: Start, recorder: Recorder, machine: dict[str, Any],
        drp_client: StandInClient) -> None:
    drp_client.create_profile("lab", {"from/profile": "yes"})
    drp_client.patch("machines", machine["Uuid"],
                     [{"op": "replace", "path": "/Profiles", "value": ["lab"]}])
    recorder.reply("/hook", 201, b"plain answer")
    plugin = start_callback({
        "plain": {"Url": recorder.url("/hook")},
        "empty-method": {"Url": recorder.url("/hook"), "Method": ""},
        "slim": {"Url": recorder.url("/hook"), "Method": "put", "Aggregate": True,
                 "ExcludeParams": ["rack", "nothing/such"], "Headers": {"X-Site": "lab"}},
        "nobody": {"Url": recorder.url("/hook"), "Method": "GET", "NoBody": True},
    })

    answer = do(plugin, "plain")
    assert base64.b64decode(answer) == b"plain answer"   # the Go plugin's default answer
    first = recorder.seen("/hook")[-1]
    assert first.method == "POST"
    assert first.headers["content-type"] == "application/json; charset=utf-8"
    assert first.headers["accept"] == "application/json"
    body = first.json()
    assert body["Uuid"] == machine["Uuid"]
    assert body["Name"] == "m1.example.com"
    assert body["Params"] == {"site": "lab-3", "rack": 7}   # not aggregated

    do(plugin, "empty-method")
    assert recorder.seen("/hook")[-1].method == "POST"

    do(plugin, "slim")
    slim = recorder.seen("/hook")[-1]
    assert slim.method == "PUT"
    assert slim.headers["x-site"] == "lab"
    assert slim.json()["Params"] == {"site": "lab-3", "from/profile": "yes"}

    do(plugin, "nobody")
    bare = recorder.seen("/hook")[-1]
    assert bare.method == "GET" and bare.body == b""


@pytest.mark.slow
def test_answers_errors_and_unknown_actions(start_callback: Start, recorder: Recorder,
                                            machine: dict[str, Any],
                                            drp_client: StandInClient) -> None:
    recorder.reply("/json", 200, {"id": 42, "tags": ["a"]})
    recorder.reply("/text", 200, "hello there")
    recorder.reply("/bad-json", 200, "not json")
    recorder.reply("/teapot", 418, "short and stout")
    plugin = start_callback({
        "json": {"Url": recorder.url("/json"), "JsonResponse": True, "StringResponse": True},
        "text": {"Url": recorder.url("/text"), "StringResponse": True},
        "bad-json": {"Url": recorder.url("/bad-json"), "JsonResponse": True},
        "teapot": {"Url": recorder.url("/teapot")},
    })
    assert do(plugin, "json") == {"id": 42, "tags": ["a"]}   # JsonResponse wins
    assert do(plugin, "text") == "hello there"
    with pytest.raises(PluginError) as bad:
        do(plugin, "bad-json")
    assert bad.value.code == 400 and "Callback JSON parse" in str(bad.value)
    with pytest.raises(PluginError) as teapot:
        do(plugin, "teapot")
    assert teapot.value.code == 418                          # the upstream status is kept
    assert "Callback API returned 418" in str(teapot.value)
    assert "short and stout" in str(teapot.value)
    assert len(recorder.seen("/teapot")) == 1                # Retry 0: one attempt

    # An unknown callback/action is an error naming the known ones (Go: a silent success).
    with pytest.raises(PluginError) as unknown:
        do(plugin, "gamma")
    assert unknown.value.code == 404
    assert "Unknown callback action 'gamma'" in str(unknown.value)
    assert "(known callbacks: bad-json, json, teapot, text)" in str(unknown.value)
    assert len(recorder.seen()) == 4

    # Without taskcomplete/jobfail callbacks, finished tasks and failed jobs send nothing.
    drp_client.patch("machines", machine["Uuid"], [
        {"op": "replace", "path": "/Tasks", "value": ["t"]},
        {"op": "replace", "path": "/CurrentTask", "value": 1}])
    drp_client.request("POST", "/events", {
        "Type": "jobs", "Action": "update", "Key": "j1", "Original": {"State": "running"},
        "Object": {"Uuid": "j1", "State": "failed", "Machine": machine["Uuid"]}})
    time.sleep(0.4)
    assert len(recorder.seen()) == 4


@pytest.mark.slow
def test_templated_url_and_override_bodies(start_callback: Start, recorder: Recorder,
                                           machine: dict[str, Any], drp_client: StandInClient,
                                           ) -> None:
    drp_client.set_param("machines", machine["Uuid"], "callback/skip", True)
    url = recorder.url(
        "/hosts/{{ Machine.ShortName }}/{{ Param('site') }}"
        "?uuid={{ Machine.UUID }}&hex={{ Machine.HexAddress }}&mac={{ Machine.MacAddr('pxelinux') }}"
        "&plugin={{ Param('callback/plugin') }}&api={{ ParseUrl('scheme', ApiURL) }}"
        "&port={{ Info.ApiPort == Info.api_port }}")
    template = ('{"name": "{{ Machine.Name }}", "rack": {{ Param("rack") }}, '
                '"skip": {{ Param("callback/skip") }}, "has": {{ ParamExists("site") }}, '
                '"missing": "{{ Param("not/there") }}", "json": {{ ParamAsJSON("site") }}, '
                '"profile": {{ Machine.HasProfile("lab") }}, "url": "{{ Machine.Url }}"}')
    plugin = start_callback({
        "raw": {"Url": url, "RawBody": True, "Method": "POST"},
        "string": {"Url": recorder.url("/string")},
        "go-syntax": {"Url": recorder.url("/go/{{.Machine.Name}}")},
    })

    do(plugin, "raw", **{"callback/data-override": template})
    seen = recorder.seen()[-1]
    assert seen.path == "/hosts/m1/lab-3"
    query = dict(part.split("=", 1) for part in seen.query.split("&"))
    assert query == {"uuid": machine["Uuid"], "hex": "C000020A", "mac": "01-52-54-00-ab-cd-ef",
                     "plugin": "callback", "api": "https", "port": "true"}
    body = seen.json()
    assert body == {"name": "m1.example.com", "rack": 7, "skip": True, "has": True,
                    "missing": "", "json": "lab-3", "profile": False,
                    "url": body["url"]}
    assert body["url"].startswith("http://") and body["url"].endswith(f"/machines/{machine['Uuid']}")

    # Without RawBody, a rendered string is sent as a JSON string (as the Go plugin did).
    do(plugin, "string", **{"callback/data-override": "id={{ Machine.Name }}"})
    assert recorder.seen("/string")[-1].json() == "id=m1.example.com"
    # Any other value is sent JSON-encoded, untouched.
    do(plugin, "string", **{"callback/data-override": {"keep": "{{ Machine.Name }}", "n": [1]}})
    assert recorder.seen("/string")[-1].json() == {"keep": "{{ Machine.Name }}", "n": [1]}

    with pytest.raises(PluginError) as go:
        do(plugin, "go-syntax")
    assert go.value.code == 400
    assert "Jinja2" in str(go.value) and "Url of callback go-syntax" in str(go.value)


@pytest.mark.slow
def test_templates_are_sandboxed_and_strict(start_callback: Start, recorder: Recorder,
                                            machine: dict[str, Any]) -> None:
    plugin = start_callback({"t": {"Url": recorder.url("/t"), "RawBody": True}})
    for template, expected in [
        ("{{ Machine.__class__.__mro__ }}", "SecurityError"),
        ("{{ Machine.update({'Name': 'x'}) }}", "SecurityError"),
        ("{{ Machine.NoSuchField }}", "UndefinedError"),
        ("{{ Machine.Params.nope }}", "UndefinedError"),
    ]:
        with pytest.raises(PluginError) as info:
            do(plugin, "t", **{"callback/data-override": template})
        assert info.value.code == 400
        assert expected in str(info.value), (template, str(info.value))
    assert recorder.seen() == []


@pytest.mark.slow
def test_override_decodes_and_aggregates_params(start_callback: Start, recorder: Recorder,
                                                machine: dict[str, Any],
                                                drp_client: StandInClient) -> None:
    drp_client.create_param("test/secret", {"type": "string"}, secure=True)
    drp_client.create_profile("global-ish", {"from/profile": 5})
    drp_client.patch("machines", machine["Uuid"],
                     [{"op": "replace", "path": "/Profiles", "value": ["global-ish"]}])
    drp_client.set_param("machines", machine["Uuid"], "test/secret", "hunter2")
    plugin = start_callback({"t": {"Url": recorder.url("/t"), "RawBody": True},
                             "plain": {"Url": recorder.url("/plain")}})
    do(plugin, "t", **{"callback/data-override":
                       '{{ {"s": Param("test/secret"), "p": Param("from/profile")} }}'})
    assert json.loads(recorder.seen("/t")[-1].body) == {"s": "hunter2", "p": 5}
    do(plugin, "plain")
    params = recorder.seen("/plain")[-1].json()["Params"]
    assert params["test/secret"] != "hunter2"       # no Decode: the sealed form is sent
    assert "from/profile" not in params             # no Aggregate
