"""What a provider declares to DRP: per-model actions, the target model, state and
lifespan, the interface style's limits, one version, and DRP's error messages.

The certs-style provider (``certs_style.py``) mirrors how Go's certs plugin declares
``deleteroot`` (provision-plugins ``cmds/certs/certs.go``, ``AvailableActions``).
Protocol checks run the provider as a real process over real unix sockets
(:class:`drp_plugin.testing.PluginHost`) or inside the DRP stand-in.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from drp_plugin import Action, App, Context, PluginError, Provider
from drp_plugin.go_interfaces import PluginActor, PluginConfig, PluginStop
from drp_plugin.models import Machine, PluginObject, StoreObject, normalize_version
from drp_plugin.provider import BaseProvider, infer_target_model
from drp_plugin.testing import PluginHost
from tests.helpers import ROOT, define_silently, run_args

CERTS = ROOT / "tests" / "providers" / "certs_style.py"
MACHINE = {"Uuid": "3e7031fe-3062-45f1-835c-92541bc9cbd3", "Name": "m1", "Address": "10.0.0.5",
           "HardwareAddrs": [], "Params": {}, "Profiles": [], "Workflow": "", "Stage": "none",
           "BootEnv": "local", "Runnable": True, "Locked": False}
PLUGIN = {"Name": "certs-1", "Provider": "certs-style", "Params": {}, "PluginErrors": [],
          "Description": "", "Available": True}


# -- the definition ------------------------------------------------------------------------------

def test_per_model_actions_in_the_definition(clean_env: dict[str, str]) -> None:
    definition = define_silently(run_args(CERTS), clean_env)
    actions = {(a["Command"], a["Model"]): (a["RequiredParams"], a["OptionalParams"])
               for a in definition["AvailableActions"]}
    assert actions == {
        ("deleteroot", "machines"): (["certs/root", "certs/root-pw"], None),
        ("deleteroot", "plugins"): (["certs/root"], None),
        ("signcert", "machines"): (["certs/root", "certs/root-pw", "certs/csr"], None),
        ("signcert", "plugins"): (["certs/root", "certs/csr"], None),
        ("listroots", ""): (None, None),
        ("listroots", "plugins"): (None, None),
    }
    assert len(definition["AvailableActions"]) == 6


def test_a_command_is_registered_once_per_model() -> None:
    provider = Provider("x")

    @provider.action("go", model="machines")
    def one(ctx: Any, action: Action) -> None: ...

    with pytest.raises(ValueError, match="'go' on 'machines' is already registered"):
        provider.action("go", model=["plugins", "machines"])(one)
    provider.action("go", model="plugins")(one)
    with pytest.raises(ValueError, match="'go' on 'system' is already registered"):
        provider.action("go")(one)
        provider.action("go")(one)
    assert [a["Model"] for a in provider.available_actions()] == ["machines", "plugins", ""]


def test_target_model_inference() -> None:
    both = ["machines", "plugins"]
    assert infer_target_model(MACHINE, both) == "machines"
    assert infer_target_model(PLUGIN, both) == "plugins"
    assert infer_target_model(None, ["", "plugins"]) == ""
    assert infer_target_model(PLUGIN, ["", "plugins"]) == "plugins"
    cow = {"Id": "bessie", "Type": "cows", "Params": {}}
    assert infer_target_model(cow, ["machines", "cows"]) == "cows"
    assert infer_target_model({"Uuid": "u"}, ["machines"]) == "machines"


def test_typed_target_views() -> None:
    action = Action({"Command": "c", "Plugin": "p", "Model": MACHINE})
    action.target_model = "machines"
    machine = action.target_as(Machine)
    assert (machine.uuid, machine.name, machine.address, machine.key) == (
        MACHINE["Uuid"], "m1", "10.0.0.5", MACHINE["Uuid"])
    assert isinstance(action.target, Machine)
    with pytest.raises(PluginError, match="c was called on machines, not on plugins") as info:
        action.target_as(PluginObject)
    assert info.value.code == 409
    with pytest.raises(PluginError, match="not on StoreObject"):
        action.target_as(StoreObject)
    cow = Action({"Command": "c", "Model": {"Id": "bessie", "Type": "cows"}})
    cow.target_model = "cows"
    assert cow.target_as(StoreObject).id == "bessie" and cow.target is not None
    system = Action({"Command": "c", "Model": None})
    assert system.target is None
    with pytest.raises(PluginError, match="called on system"):
        system.target_as(Machine)


# -- over the protocol ---------------------------------------------------------------------------

@pytest.fixture
async def certs_host(clean_env: dict[str, str], tmp_path: Path) -> AsyncIterator[PluginHost]:
    env = {**clean_env, "CERTS_STYLE_JOURNAL": str(tmp_path / "journal")}
    host = PluginHost(run_args(CERTS), env=env)
    await host.start()
    try:
        yield host
    finally:
        await host.aclose()


async def test_param_check_follows_the_model_called_on(certs_host: PluginHost,
                                                        tmp_path: Path) -> None:
    assert (await certs_host.config({"Name": "certs-1"})).status == 200
    root = {"certs/root": "demo"}
    reply = await certs_host.action("deleteroot", root, model=MACHINE)
    assert reply.status == 400
    assert reply.json()["Messages"] == ["Missing Parameter certs/root-pw"]
    reply = await certs_host.action("deleteroot", root, model=PLUGIN)
    assert reply.status == 200, reply
    assert reply.json() == {"model": "plugins", "plugin": "certs-1", "provider": "certs-style",
                            "configs": 1}
    reply = await certs_host.action("deleteroot", {**root, "certs/root-pw": "pw"}, model=MACHINE)
    assert reply.json() == {"model": "machines", "uuid": MACHINE["Uuid"],
                            "password_checked": True}
    csr = {**root, "certs/csr": "x"}
    assert (await certs_host.action("signcert", csr, model=PLUGIN)).json() == "plugin certs-1"
    reply = await certs_host.action("signcert", csr, model=MACHINE)
    assert reply.json()["Messages"] == ["Missing Parameter certs/root-pw"]
    reply = await certs_host.action("signcert", {**csr, "certs/root-pw": "pw"}, model=MACHINE)
    assert reply.json() == "machine m1"
    assert (await certs_host.action("listroots")).json() == {
        "model": "", "target": None, "roots": ["demo"]}
    assert (await certs_host.action("listroots", model=PLUGIN)).json()["target"] == "certs-1"


async def test_lifespan_set_up_on_config_torn_down_on_stop(certs_host: PluginHost,
                                                          tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    reply = await certs_host.action("listroots")  # before config: no state yet
    assert reply.status == 500
    assert "plugin state is NoneType, not Roots" in reply.json()["Messages"][0]
    assert not journal.exists()
    for _ in range(2):
        assert (await certs_host.config({"Name": "certs-1"})).status == 200
    assert journal.read_text() == "setup\n"  # entered once, on the first config
    assert (await certs_host.action("deleteroot", {"certs/root": "demo"},
                                    model=PLUGIN)).json()["configs"] == 2
    assert (await certs_host.stop()).status == 200
    assert await certs_host.wait(30) == 0
    assert journal.read_text() == "setup\nteardown after 2 config(s)\n"


async def test_lifespan_forms() -> None:
    """An async generator, a sync generator (run in a worker thread), or a factory of
    an async context manager; state is None again after stop."""
    import contextlib

    seen: list[str] = []

    async def agen(ctx: Context) -> AsyncIterator[str]:
        seen.append("a-in")
        yield "async"
        seen.append("a-out")

    def gen(ctx: Context) -> Any:
        seen.append("s-in")
        yield "sync"
        seen.append("s-out")

    @contextlib.asynccontextmanager
    async def factory(ctx: Context) -> AsyncIterator[str]:
        yield "factory"

    for fn, value in ((agen, "async"), (gen, "sync"), (factory, "factory")):
        provider = Provider("x", lifespan=fn)
        states: list[Any] = []
        provider.config(lambda ctx, params, states=states: states.append(ctx.state))
        await provider.run_config(None, {})
        await provider.run_config(None, {})
        assert states == [value, value] and provider.state == value
        await provider.run_stop(None)
        assert provider.state is None
    assert seen == ["a-in", "a-out", "s-in", "s-out"]
    provider = Provider("x", lifespan=lambda ctx: 42)
    with pytest.raises(TypeError, match="async generator function"):
        await provider.run_config(None, {})
    with pytest.raises(ValueError, match="already registered"):
        Provider("x", lifespan=agen).lifespan(agen)


# -- the interface style ---------------------------------------------------------------------

class _Plain:
    def config(self, log: Any, api: Any, params: dict[str, Any]) -> None: ...

    def action(self, log: Any, action: Action) -> Any:
        return action.target_model

    def stop(self, log: Any) -> None: ...


@pytest.mark.parametrize("decorator", ["action", "on_event", "config", "publish", "stop",
                                        "unpack", "validate", "lifespan"])
def test_app_has_no_decorator_style(decorator: str) -> None:
    """App and Provider are siblings over BaseProvider: an App has none of Provider's
    decorators (what they registered would never be served), its handlers are the
    plugin object's methods."""
    app = App("plain", _Plain())
    assert not isinstance(app, Provider) and isinstance(app, BaseProvider)
    assert isinstance(Provider("p"), BaseProvider)
    assert not hasattr(app, decorator)
    with pytest.raises(AttributeError):
        getattr(app, decorator)("x")


async def test_app_handlers_are_the_plugin_objects_methods(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RS_ENDPOINT", "https://127.0.0.1:1")  # validate's api: never called
    monkeypatch.setenv("RS_TOKEN", "t")
    calls: list[str] = []

    class Recording(_Plain):
        def config(self, log: Any, api: Any, params: dict[str, Any]) -> None:
            calls.append(f"config {params['Name']}")

        def stop(self, log: Any) -> None:
            calls.append("stop")

        def validate(self, log: Any, api: Any) -> Any:
            return {"validated": True}

    app = App("plain", Recording(), definition={"AvailableActions": [{"Command": "go"}]})
    await app.run_config(None, {"Name": "p1"})
    assert await app.run_action(None, Action({"Command": "go", "Model": None})) == ""
    await app.run_stop(None)
    assert calls == ["config p1", "stop"]
    assert app.has_validator and app.run_validate({}) == {"validated": True}
    assert not App("plain", _Plain()).has_validator

    class ConfigOnly:
        def config(self, log: Any, api: Any, params: dict[str, Any]) -> None: ...

    with pytest.raises(PluginError, match="Unknown command: nope"):  # no action(): 404
        await App("bare", ConfigOnly()).run_action(None, Action({"Command": "nope"}))


async def test_app_actions_know_their_target_model() -> None:
    app = App("plain", _Plain(), definition={"AvailableActions": [
        {"Command": "go", "Model": "machines"}, {"Command": "go", "Model": "plugins"}]})
    assert await app.run_action(None, Action({"Command": "go", "Model": PLUGIN})) == "plugins"
    assert await app.run_action(None, Action({"Command": "go", "Model": MACHINE})) == "machines"


def test_go_interfaces_are_protocols() -> None:
    plain = _Plain()
    assert isinstance(plain, PluginConfig) and isinstance(plain, PluginActor)
    assert isinstance(plain, PluginStop)
    from drp_plugin.go_interfaces import PluginPublisher

    assert not isinstance(plain, PluginPublisher)


@pytest.mark.slow
def test_a_type_checker_holds_a_plugin_to_the_go_interfaces(tmp_path: Path) -> None:
    """mypy flags a plugin whose methods do not fit Go's interfaces."""
    bad = tmp_path / "bad_plugin.py"
    bad.write_text(
        "from drp_plugin import App\n"
        "from drp_plugin.go_interfaces import PluginActor\n\n"
        "class NoConfig:\n    def action(self, log, action): ...\n\n"
        "class WrongActor(PluginActor):\n    def action(self) -> None: ...\n\n"
        "app = App('x', NoConfig())\n")
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", str(bad)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 1, done.stdout
    assert 'Argument 2 to "App" has incompatible type "NoConfig"' in done.stdout
    assert 'Signature of "action" incompatible with supertype "drp_plugin.go_interfaces.PluginActor"' in done.stdout


# -- one version -------------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "expected"), [
    ("0.1.0", "v0.1.0"), ("v0.1.0", "v0.1.0"), ("1.2", "v1.2.0"), ("v4", "v4.0.0"),
    ("", "v0.0.0"), (None, "v0.0.0"), ("v1.2.3-4-gabc123-dirty", "v1.2.3-4-gabc123-dirty"),
    ("2.0.0rc1", "v2.0.0rc1"), ("01.02.03", "v1.2.3"), ("abc1234", "v0.0.0+abc1234"),
])
def test_normalize_version(given: str | None, expected: str) -> None:
    assert normalize_version(given) == expected


PYPROJECTS = [
    '[project]\nname = "x"\nversion = "0.1.0"\n',
    "[project]\nversion='1.2.3'  # a comment\n[tool.x]\nversion = \"9\"\n",
    '[tool.x]\nversion = "9"\n[project]\nname = "x"\n',
    '[build-system]\nrequires = []\n[ project ] # c\n  version   =   "2.0"\n',
    '[project]\ndynamic = ["version"]\nversions = "no"\n',
    '[[tool.list]]\nversion = "1"\n[project]\nversion = "3.1"\n',
    '# [project]\nversion = "no"\n',
    "",
]


@pytest.mark.parametrize("text", PYPROJECTS)
def test_pyproject_version_agrees_with_tomllib(text: str) -> None:
    """The small reader ``define`` uses, against the library (``tomllib``)."""
    import tomllib

    from drp_plugin.models import pyproject_version

    project = tomllib.loads(text).get("project") or {}
    assert pyproject_version(text) == project.get("version")


def test_pyproject_version_declines_what_it_does_not_read() -> None:
    from drp_plugin.models import pyproject_version

    assert pyproject_version('[project]\nversion = """1.0"""\n') is None
    assert pyproject_version('[project]\nversion = "1\\u0030"\n') is None


def test_one_version_from_source(clean_env: dict[str, str]) -> None:
    """callback's version is [project].version of its pyproject.toml (0.1.0): define from
    source, and the content meta, say v0.1.0 (the build stamps the same, normalized)."""
    definition = define_silently(run_args(ROOT / "providers" / "callback" / "callback.py"),
                                 clean_env)
    assert definition["Version"] == "v0.1.0"
    assert yaml.safe_load(definition["Content"])["meta"]["Version"] == "v0.1.0"
    incrementer = define_silently(run_args(ROOT / "examples" / "incrementer" / "incrementer.py"),
                                  clean_env)
    assert incrementer["Version"] == "v0.0.0"
    assert yaml.safe_load(incrementer["Content"])["meta"]["Version"] == "v0.0.0"
    for text in (definition["Content"], incrementer["Content"]):  # issue: 16 aliases before
        assert not any(isinstance(e, yaml.AliasEvent) or getattr(e, "anchor", None)
                       for e in yaml.parse(text))


# -- errors from the API carry DRP's message ---------------------------------------------------

def test_api_error_reaches_the_reply_with_drps_message(
        drp_provider: Callable[..., Any], drp_client: Any) -> None:
    """Issue 14 item 11: Go's incrementer answers DRP's own message for the unset param
    (``Not Found``, as DRP's recorded CLI suite has it; cmds/incrementer/incrementer.go
    removeParameter: ``e.AddError(err)`` copies the API error's Messages); ours answered
    ``DELETE: machines/<uuid>: ...``."""
    inc = drp_provider(str(ROOT / "examples" / "incrementer" / "incrementer.py"))
    drp_client.create_machine("m1")
    with pytest.raises(PluginError) as info:
        inc.action("reset_count", on="m1", params={"incrementer/touched": 1})
    assert info.value.messages == ["Not Found"]
    assert info.value.code == 400


def test_add_error_copies_messages_like_go() -> None:
    from drp_plugin.api.core import APIError

    api = APIError("Param x not set", code=404, model="machines", key="u1", type="DELETE")
    assert str(api) == "DELETE: machines/u1: Param x not set"
    err = PluginError(code=400, model="plugin", key="p").add_error(api).add_error(OSError("boom"))
    assert err.messages == ["Param x not set", "boom"]
    assert str(err) == "plugin/p\n  Param x not set\n  boom"


# -- provider state --------------------------------------------------------------------------

PROVIDER_FILES = [ROOT / "providers" / "callback" / "callback.py",
                  ROOT / "providers" / "callback" / "callback_core" / "errors.py",
                  ROOT / "providers" / "endpoint-exec" / "endpoint_exec.py",
                  ROOT / "providers" / "filebeat" / "filebeat.py"]


@pytest.mark.parametrize("path", PROVIDER_FILES, ids=lambda p: p.name)
def test_providers_hold_no_module_level_state(path: Path) -> None:
    """Module-level names are constants, the Provider, or types; no ``global``."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        assert not isinstance(node, ast.Global), f"{path.name}:{node.lineno}: global"
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            value = node.value
            assert value is not None
            ok = isinstance(value, ast.Constant) or (
                isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                and value.func.id == "Provider") or (
                isinstance(value, ast.BinOp) and all(isinstance(n, ast.Constant)
                                                      for n in ast.walk(value)
                                                      if isinstance(n, ast.expr)
                                                      and not isinstance(n, ast.BinOp)))
            if isinstance(value, ast.Attribute):  # NAME = filebeat_core.NAME
                ok = True
            if isinstance(value, ast.Tuple):  # an immutable tuple of constants
                ok = all(isinstance(e, ast.Constant) for e in value.elts)
            assert ok, f"{path.name}:{node.lineno}: module-level {ast.unparse(node)[:60]}"


def test_filebeat_writes_a_null_machine_original_as_go_does() -> None:
    """cmds/filebeat/filebeat.go ``filter``: a machine event's Object and Original are
    decoded into maps, so ``null`` is written ``{}``; other types keep ``null``."""
    spec = importlib.util.spec_from_file_location(
        "fb_filtering", ROOT / "providers" / "filebeat" / "filebeat_core" / "filtering.py")
    assert spec is not None and spec.loader is not None
    filtering = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(filtering)
    created = json.loads(filtering.encode_event(
        {"Type": "machines", "Action": "create", "Key": "u", "Object": {"Name": "m"}}))
    assert created["Original"] == {}
    deleted = json.loads(filtering.encode_event(
        {"Type": "machines", "Action": "delete", "Key": "u", "Object": None, "Original": None}))
    assert deleted["Object"] == {} and deleted["Original"] == {}
    profile = json.loads(filtering.encode_event({"Type": "profiles", "Object": {"Name": "p"}}))
    assert profile["Original"] is None
