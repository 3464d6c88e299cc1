"""The exception tree and the one ``models.Error`` factory (drp_plugin.errors).

The text form follows Go's ``models.Error.Error()`` (digitalrebar/provision
``models/errors.go``): ``Type: Model/Key: message``, the parts joined like
``path.Join``; several messages go on their own indented lines.
"""

from __future__ import annotations

import importlib
import json
import sys
import warnings
from typing import Any

import pytest

import drp_plugin
from drp_plugin import errors
from drp_plugin.api import APIConnectionError, APIError
from drp_plugin.errors import (
    DRPPluginError,
    PluginError,
    error_body,
    panic_body,
    panic_message,
    plugin_error,
)

EXCEPTIONS = [getattr(errors, name) for name in errors.__all__
              if isinstance(getattr(errors, name), type)]


def test_every_exception_has_the_common_root() -> None:
    assert len(EXCEPTIONS) >= 13
    for cls in [*EXCEPTIONS, APIError, APIConnectionError]:
        assert issubclass(cls, DRPPluginError), cls
    assert drp_plugin.DRPPluginError is DRPPluginError


@pytest.mark.parametrize(("name", "builtin"), [
    ("ContentError", ValueError), ("AssetError", ValueError), ("ProjectError", ValueError),
    ("ScaffoldError", ValueError), ("BuildError", RuntimeError),
    ("DependencyError", RuntimeError), ("UploadError", RuntimeError),
])
def test_old_builtin_bases_are_kept(name: str, builtin: type[Exception]) -> None:
    """``except ValueError`` written for the old classes still catches them."""
    cls = getattr(errors, name)
    assert issubclass(cls, builtin)
    with pytest.raises(builtin):
        raise cls("x")


def test_api_errors_are_plugin_errors_and_connection_errors() -> None:
    assert issubclass(APIError, PluginError)
    assert issubclass(APIConnectionError, ConnectionError)


def test_error_body_has_the_go_fields_in_order() -> None:
    assert list(error_body(404)) == ["Model", "Key", "Type", "Messages", "Code"]
    assert error_body(404, type="GET", key="/x") == {
        "Model": "", "Key": "/x", "Type": "GET", "Messages": None, "Code": 404}
    assert error_body(400, "a", "b", model="machines")["Messages"] == ["a", "b"]


def test_error_body_is_a_drop_in_for_the_servers_old_helper() -> None:
    """``protocol.httpserver.error_body(code, message=None, ...)`` took one optional
    message: the same calls give the same bodies here."""
    assert error_body(404, None, type="GET", key="/x")["Messages"] is None
    assert error_body(400, "Invalid JSON: x", type="POST") == {
        "Model": "", "Key": "", "Type": "POST", "Messages": ["Invalid JSON: x"], "Code": 400}


def test_plugin_error_json_is_the_factory_body() -> None:
    err = PluginError("nope", code=409, model="machines", key="m1", type="ValidationError")
    assert err.to_dict() == error_body(409, "nope", model="machines", key="m1",
                                       type="ValidationError")
    assert json.loads(err.to_json()) == err.to_dict()
    assert PluginError("x", code=0).to_dict()["Code"] == 500  # never an invalid status
    assert PluginError(code=700).status == 500


def test_from_dict_round_trips_and_fills_the_code() -> None:
    err = PluginError("a", "b", code=422, model="m", key="k", type="t")
    back = PluginError.from_dict(err.to_dict())
    assert back.to_dict() == err.to_dict()
    assert PluginError.from_dict({"Messages": "one"}, 502).to_dict() == error_body(502, "one")
    assert PluginError.from_dict("plain text", 0).code == 500


@pytest.mark.parametrize(("kwargs", "messages", "text"), [
    ({"type": "POST", "model": "plugin_providers", "key": "x"}, ["Empty upload"],
     "POST: plugin_providers/x: Empty upload"),
    ({"type": "API_ERROR", "model": "typed-cows"}, ["502 Bad Gateway"],
     "API_ERROR: typed-cows: 502 Bad Gateway"),
    ({"type": "AUTH"}, ["a", "b"], "AUTH\n  a\n  b"),
    ({"type": "GET", "key": "/x"}, [], "GET: /x"),
    ({}, ["bare"], "bare"),
    ({}, [], "error 400"),
])
def test_text_form_is_gos(kwargs: dict[str, Any], messages: list[str], text: str) -> None:
    assert str(PluginError(*messages, **kwargs)) == text


def test_plugin_error_is_tagged_like_the_go_plugin_package() -> None:
    err = plugin_error("incrementer", "Unknown command: x", code=404)
    assert err.to_dict() == {"Model": "plugin", "Key": "incrementer", "Type": "plugin",
                             "Messages": ["Unknown command: x"], "Code": 404}
    assert plugin_error("cb", "bad", model="plugins", type="rpc").to_dict()["Model"] == "plugins"


def test_panic_body_names_the_exception_type() -> None:
    assert panic_message(ValueError("kaboom")) == "Panic recovered: ValueError: kaboom"
    assert panic_message(KeyError()) == "Panic recovered: KeyError"
    assert panic_body(RuntimeError("x"), "POST", "/api-plugin/v4/action") == error_body(
        500, "Panic recovered: RuntimeError: x", type="POST", key="/api-plugin/v4/action")


def test_importing_the_package_changes_no_warnings_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host application importing drp_plugin while its argv says ``define`` keeps its
    warnings (the old package ``__init__`` silenced them for the whole process)."""
    monkeypatch.setattr(sys, "argv", ["host-app", "define"])
    with warnings.catch_warnings():
        before = list(warnings.filters)
        importlib.reload(drp_plugin)
        assert warnings.filters == before


# -- Go's error shapes by name (provision-plugins utils/error_helpers.go, provision
#    models/errors.go, plugin/plugin.go, cmds/tower/tower.go) -----------------------------

def test_rpc_is_utils_make_error() -> None:
    err = PluginError.rpc(409, "Command failed launch: boom", key="tower1")
    assert err.to_dict() == {"Model": "plugin", "Key": "tower1", "Type": "rpc",
                             "Messages": ["Command failed launch: boom"], "Code": 409}
    assert str(err) == "rpc: plugin/tower1: Command failed launch: boom"
    # before utils.SetErrorName, Go's key is "unknown"
    assert PluginError.rpc(400, "x").key == "unknown"
    assert PluginError.rpc(400, "x", key="").key == "unknown"


def test_convert_is_utils_convert_error() -> None:
    # any other error: MakeError(code, "Err: " + err.Error())
    err = PluginError.convert(400, OSError("no route to host"), key="tower1")
    assert err.to_dict() == {"Model": "plugin", "Key": "tower1", "Type": "rpc",
                             "Messages": ["Err: no route to host"], "Code": 400}
    # a models.Error keeps everything but its code: the same object comes back
    api = PluginError("Not Found", code=404, model="machines", key="m1", type="GET")
    same = PluginError.convert(409, api, key="tower1")
    assert same is api
    assert same.to_dict() == {"Model": "machines", "Key": "m1", "Type": "GET",
                              "Messages": ["Not Found"], "Code": 409}
    apierr = APIError("gone", code=404, model="machines", key="m1", type="GET")
    assert PluginError.convert(400, apierr) is apierr and apierr.code == 400


def test_config_is_the_go_providers_config_refusal() -> None:
    err = PluginError.config("tower1")
    assert err.messages == []
    err.messages.append("Plugin tower1 is missing tower/login")
    err.code = 400
    assert err.to_dict() == {"Model": "plugins", "Key": "tower1", "Type": "plugin",
                             "Messages": ["Plugin tower1 is missing tower/login"], "Code": 400}
    assert PluginError.config("p", "a", "b", code=403).to_dict()["Messages"] == ["a", "b"]


def test_plugin_is_the_go_plugin_package_error_and_plugin_error() -> None:
    err = PluginError.plugin("unknown", "Must have a token specified")
    assert err.to_dict() == {"Model": "plugin", "Key": "unknown", "Type": "plugin",
                             "Messages": ["Must have a token specified"], "Code": 400}
    assert err.to_dict() == plugin_error("unknown", "Must have a token specified").to_dict()


def test_new_is_models_new_error() -> None:
    err = PluginError.new("plugins", 500, "Unable to create event stream: x")
    assert err.to_dict() == {"Model": "", "Key": "", "Type": "plugins",
                             "Messages": ["Unable to create event stream: x"], "Code": 500}
    assert str(err) == "plugins: Unable to create event stream: x"


def test_go_shapes_stay_in_the_one_exception_tree() -> None:
    for err in (PluginError.rpc(400, "x"), PluginError.convert(400, ValueError("x")),
                PluginError.config("p"), PluginError.plugin("p"), PluginError.new("t", 400, "m")):
        assert type(err) is PluginError and isinstance(err, DRPPluginError)
    # a subclass makes its own kind
    assert type(APIError.rpc(400, "x")) is APIError
