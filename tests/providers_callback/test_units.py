"""The pieces of callback_core, in process: settings and the template names."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from drp_plugin.errors import PluginError

from .conftest import PROVIDER_DIR


@pytest.fixture(scope="module")
def core() -> Iterator[ModuleType]:
    sys.path.insert(0, str(PROVIDER_DIR))
    try:
        import callback_core.engine
        import callback_core.render
        import callback_core.settings

        yield callback_core
    finally:
        sys.path.remove(str(PROVIDER_DIR))


def test_settings_defaults_and_problems(core: ModuleType) -> None:
    parse = core.settings.parse
    ok = parse({
        "callback/callbacks": {
            "a": {"Url": "http://127.0.0.1/x", "Timeout": 0, "Auth": "one", "Auths": ["two"],
                  "Retries": 3},
            "b": {"Url": "https://h/{{ Machine.Name }}", "Method": "put", "Timeout": 30,
                  "Delay": 2.0},
        },
        "callback/auths": {"one": {"AuthType": "basic", "Username": "u", "Password": "p"},
                           "two": {"AuthType": "exec", "Path": "/bin/true"}},
        "callback/proxy": " http://127.0.0.1:3128 ",
    })
    assert ok.errors == []
    assert ok.warnings == ["callback/callbacks[a]: unknown field(s) ignored: Retries"]
    a, b = ok.callbacks["a"], ok.callbacks["b"]
    assert (a.method, a.timeout, a.auth_chain) == ("POST", 7200, ("one", "two"))
    assert (b.method, b.timeout, b.delay) == ("PUT", 30, 2)
    assert ok.proxy == "http://127.0.0.1:3128"

    bad = parse({
        "callback/callbacks": {"x": {"Url": "", "Retry": "3", "Headers": {"A": 1},
                                     "Auths": ["nope"]},
                               "y": "not an object"},
        "callback/auths": {"e": {"AuthType": "exec"}, "j": {"AuthType": "json-token"},
                           "k": {"AuthType": "kerberos"}},
        "callback/proxy": "localhost:3128",
    })
    assert bad.errors == [
        "callback/auths[e]: Path is required for an exec auth",
        "callback/auths[j]: Url is required",
        "callback/auths[j]: TokenField is required for a json-token auth",
        "callback/auths[k]: AuthType must be one of basic, json-token, exec, not 'kerberos'",
        "callback/callbacks[x]: Retry must be an integer",
        "callback/callbacks[x]: Url is required",
        "callback/callbacks[x]: Headers values must be strings",
        "callback/callbacks[y] must be an object",
        "callback/proxy must be an http:// or https:// URL with a host",
        "callback/callbacks[x]: auth 'nope' is not defined in callback/auths",
    ]


def test_secrets_stay_out_of_reprs(core: ModuleType) -> None:
    spec = core.settings.parse({"callback/auths": {"a": {
        "AuthType": "basic", "Username": "u", "Password": "hunter2"}}}).auths["a"]
    assert "hunter2" not in repr(spec)


async def render(core: ModuleType, source: str, machine: dict[str, Any] | None = None,
                 info: dict[str, Any] | None = None, defaults: dict[str, Any] | None = None,
                 ) -> str:
    async def param_default(name: str) -> Any:
        return (defaults or {}).get(name)

    async def program(name: str) -> str:
        raise PluginError(f"no program {name}")

    data = core.render.TemplateData(
        machine or {"Name": "n1.lab.example", "Uuid": "u-1", "Params": {}},
        info or {"address": "127.0.0.1", "api_port": 8092, "file_port": 8091},
        param_default, program)
    result: str = await core.render.Renderer().render(source, data, "test")
    return result


async def test_template_names(core: ModuleType) -> None:
    machine = {"Name": "n1.lab.example", "Uuid": "u-1", "Address": "192.0.2.10",
               "HardwareAddrs": ["aa:bb:cc:dd:ee:ff"], "Profiles": ["p1"],
               "Params": {"a": "x", "n": 3, "flag": False, "obj": {"k": [1, None]},
                          "expand": "{{ Machine.ShortName }}-{{ Param('a') }}",
                          "loop": "{{ ParamExpand('loop') }}"}}
    info = {"address": "127.0.0.1", "api_port": 8092, "file_port": 8091,
            "prov_enabled": True, "version": "v4.14.0"}

    async def r(source: str) -> str:
        return await render(core, source, machine, info, defaults={"d/default": "dv"})

    assert await r("{{ Machine.Name }}|{{ Machine['Uuid'] }}|{{ Machine.UUID }}|"
                   "{{ Machine.UUID() }}|{{ Machine.ShortName }}") == \
        "n1.lab.example|u-1|u-1|u-1|n1"
    assert await r("{{ Machine.HexAddress }} {{ Machine.Path }} {{ Machine.Url }}") == \
        "C000020A machines/u-1 http://127.0.0.1:8091/machines/u-1"
    assert await r("{{ Machine.MacAddr }} {{ Machine.MacAddr('pxelinux') }} "
                   "{{ Machine.MacAddr('rpi4') }}") == \
        "aa:bb:cc:dd:ee:ff 01-aa-bb-cc-dd-ee-ff aa-bb-cc-dd-ee-ff"
    assert await r("{{ Machine.HasProfile('p1') }} {{ Machine.HasProfile('p2') }}") == \
        "true false"
    assert await r("{{ Param('n') + 1 }} {{ Param('flag') }} {{ Param('obj') }} "
                   "[{{ Param('nothing') }}] {{ Param('d/default') }}") == \
        '4 false {"k":[1,null]} [] dv'
    assert await r("{{ ParamExists('a') }} {{ ParamExists('d/default') }}") == "true false"
    assert await r("{{ ParamAsJSON('obj') }}|{{ ParamAsYAML('obj') }}") == \
        '{"k":[1,null]}|k:\n- 1\n- null\n'
    assert await r("{{ ParamExpand('expand') }}") == "n1-x"
    assert await r("{{ ApiURL }} {{ ProvisionerURL }} {{ ProvisionerAddress }} "
                   "{{ Info.ApiPort }} {{ Info.ProvisionerEnabled }} {{ Info.version }}") == \
        "https://127.0.0.1:8092 http://127.0.0.1:8091 127.0.0.1 8092 true v4.14.0"
    assert await r("{{ ParseUrl('host', 'https://a.b:1/c') }} "
                   "{{ ParseURL('path', 'https://a.b:1/c') }}") == "a.b:1 /c"
    assert await r("{% if Param('flag') %}yes{% else %}no{% endif %}") == "no"
    assert await r('{{ {"a": Param("a"), "n": Param("n")} | tojson }}') == \
        json.dumps({"a": "x", "n": 3})
    with pytest.raises(PluginError, match="nested more than 8 deep"):
        await r("{{ ParamExpand('loop') }}")
    with pytest.raises(PluginError, match="ParseUrl: no URL part 'port'"):
        await r("{{ ParseUrl('port', 'http://x') }}")
    with pytest.raises(PluginError, match="GetAuthString x: no program x"):
        await r("{{ GetAuthString('x') }}")


async def test_template_errors(core: ModuleType) -> None:
    with pytest.raises(PluginError, match=r"test: template error on line 1: .*Go template syntax"):
        await render(core, "{{ .Machine.Name }}")
    with pytest.raises(PluginError, match="UndefinedError"):
        await render(core, "{{ Nope }}")
    assert await render(core, "no template here {") == "no template here {"


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def _add(self, level: str, msg: str, *args: Any) -> None:
        self.lines.append((level, msg % args if args else msg))

    def info(self, msg: str, *args: Any) -> None:
        self._add("info", msg, *args)

    def warning(self, msg: str, *args: Any) -> None:
        self._add("warning", msg, *args)

    def error(self, msg: str, *args: Any) -> None:
        self._add("error", msg, *args)

    def exception(self, msg: str, *args: Any) -> None:
        self._add("error", msg, *args)


async def test_per_machine_queue_order_limit_and_cleanup(core: ModuleType) -> None:
    import asyncio

    engine = core.engine.Engine()
    log = _Log()
    await engine.configure(log, {"Name": "cb", "callback/callbacks": {}})
    running = engine.running
    gate = asyncio.Event()
    done: list[str] = []

    def job(key: str, n: int, wait: bool = False) -> Any:
        async def run() -> None:
            if wait:
                await gate.wait()
            done.append(f"{key}{n}")
        return run

    engine._enqueue("m1", running, job("a", 0, wait=True), log)
    await asyncio.sleep(0)                       # the worker takes the first job and waits
    for n in range(1, core.engine.QUEUE_LIMIT + 3):
        engine._enqueue("m1", running, job("a", n), log)
    engine._enqueue("m2", running, job("b", 0), log)
    await asyncio.sleep(0.05)
    assert done == ["b0"]                        # another machine does not wait for m1
    assert [line for level, line in log.lines if level == "error"] == [
        "machine m1 has 100 callbacks waiting: this one is dropped"] * 2
    gate.set()
    await engine.idle()
    assert done == ["b0"] + [f"a{n}" for n in range(core.engine.QUEUE_LIMIT + 1)]
    assert engine.queues == {} and engine.workers == {}
    assert running.users == 0


async def test_reconfig_closes_the_old_client_when_its_work_is_done(core: ModuleType) -> None:
    engine = core.engine.Engine()
    log = _Log()
    await engine.configure(log, {"callback/callbacks": {"a": {"Url": "http://127.0.0.1/"}}})
    first = engine.running
    first.acquire()                              # a callback under way
    await engine.configure(log, {"callback/callbacks": {}})
    assert engine.running is not first and first.retired and not first.closed
    await first.release()
    assert first.closed and first.client.is_closed
    await engine.stop(log)
    assert engine.running.client.is_closed
    with pytest.raises(PluginError) as info:
        await engine.configure(log, {"callback/callbacks": {"a": {"Url": "nope"}}})
    assert info.value.code == 400 and info.value.model == "plugins"
