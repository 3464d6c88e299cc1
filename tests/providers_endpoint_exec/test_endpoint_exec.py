"""endpoint-exec end to end: the provider under the DRP stand-in runs real executables.

Every command is a small script written into the test's temporary folder; the
action goes through the stand-in's REST API like ``drpcli machines runaction``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from drp_plugin.errors import PluginError
from drp_plugin.testing.fixtures import ProviderUnderTest, StandInClient
from tests.helpers import build_and_define, define_silently

ROOT = Path(__file__).resolve().parents[2]
PROVIDER = ROOT / "providers" / "endpoint-exec" / "endpoint_exec.py"
PY = sys.executable


def script(folder: Path, name: str, body: str, interpreter: str = "/bin/sh") -> str:
    path = folder / name
    path.write_text(f"#!{interpreter}\n" + textwrap.dedent(body).lstrip("\n"))
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def tools(tmp_path: Path) -> dict[str, Any]:
    """The whitelisted commands, and where they leave traces."""
    pidfile = tmp_path / "sleeper.pids"
    args = script(tmp_path, "args.py", """
        import json, sys
        print(json.dumps(sys.argv[1:]))
    """, PY)
    env = script(tmp_path, "env.py", """
        import json, os, ssl, urllib.request
        uuid = os.environ["RS_UUID"]
        req = urllib.request.Request(
            os.environ["RS_ENDPOINT"] + "/api/v3/machines/" + uuid,
            headers={"Authorization": "Bearer " + os.environ["RS_TOKEN"]})
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            machine = json.load(resp)
        print(json.dumps({"uuid": uuid, "name": machine["Name"],
                          "endpoint": os.environ["RS_ENDPOINT"]}))
    """, PY)
    fail = script(tmp_path, "fail.sh", """
        echo "partial output"
        echo "something broke" >&2
        exit 3
    """)
    quiet_fail = script(tmp_path, "quiet-fail.sh", "exit 4\n")
    sleeper = script(tmp_path, "sleeper.sh", """
        echo started
        sleep 60 &
        echo $$ $! > "$1"
        wait
    """)
    flood = script(tmp_path, "flood.py", """
        import sys
        chunk = b"x" * 65536
        for _ in range(160):          # 10 MiB on stdout
            sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
        sys.stderr.buffer.write(b"e" * 3_000_000)
    """, PY)
    leaver = script(tmp_path, "leaver.sh", """
        echo done
        (sleep 30; echo late) &
        echo $! > "$1"
    """)
    return {
        "pidfile": pidfile,
        "long_pidfile": tmp_path / "long.pids",
        "leaver_pidfile": tmp_path / "leaver.pid",
        "actions": {
            "args": {"Path": args, "BaseArgs": "--name 'hello world' -x"},
            "env": {"Path": env},
            "fail": {"Path": fail},
            "quiet-fail": {"Path": quiet_fail},
            "sleeper": {"Path": sleeper, "BaseArgs": str(pidfile), "Timeout": 1},
            "sleeper-long": {"Path": sleeper, "BaseArgs": str(tmp_path / "long.pids")},
            "flood": {"Path": flood},
            "leaver": {"Path": leaver, "BaseArgs": str(tmp_path / "leaver.pid")},
            "missing": {"Path": str(tmp_path / "does-not-exist")},
            "missing-bare": {"Path": "no-such-command-here"},
            "true-call": {"Path": shutil.which("true") or "/bin/true"},
        },
    }


@pytest.fixture
def exec_plugin(drp_provider: Callable[..., ProviderUnderTest],
                tools: dict[str, Any]) -> ProviderUnderTest:
    return drp_provider(PROVIDER, params={"endpoint-exec/actions": tools["actions"],
                                          "endpoint-exec/output-limit": 65536})


@pytest.fixture
def machine(drp_client: StandInClient) -> dict[str, Any]:
    return drp_client.create_machine("m1")


def run(plugin: ProviderUnderTest, action: str, parameters: str | None = None,
        on: str = "m1") -> dict[str, Any]:
    params: dict[str, Any] = {"endpoint-exec/action": action}
    if parameters is not None:
        params["endpoint-exec/parameters"] = parameters
    result: dict[str, Any] = plugin.action("endpointExecDo", on=on, params=params)
    return result


def _define() -> dict[str, Any]:
    return define_silently([PY, str(PROVIDER)])


def test_define_from_source_is_json_and_silent() -> None:
    definition = _define()
    assert definition["Name"] == "endpoint-exec"
    assert definition["PluginVersion"] == 4
    assert definition["AutoStart"] is True
    assert definition["RequiredParams"] == ["endpoint-exec/actions"]
    [action] = definition["AvailableActions"]
    assert (action["Command"], action["Model"]) == ("endpointExecDo", "machines")
    assert action["RequiredParams"] == ["endpoint-exec/action"]
    assert action["OptionalParams"] == ["endpoint-exec/parameters"]


def test_content_is_installed(exec_plugin: ProviderUnderTest, drp_client: StandInClient) -> None:
    for name, default in [("endpoint-exec/actions", {}), ("endpoint-exec/parameters", ""),
                          ("endpoint-exec/plugin", "endpoint-exec"),
                          ("endpoint-exec/timeout", 300),
                          ("endpoint-exec/output-limit", 1048576)]:
        param = drp_client.get("params", name)
        assert param["Schema"].get("default") == default, name
        assert param["Documentation"]
    assert drp_client.get("params", "endpoint-exec/action")["Schema"]["type"] == "string"
    # The stand-in serves no tasks or stages: read them from the bundle DRP gets.
    sections = yaml.safe_load(_define()["Content"])["sections"]
    task = sections["tasks"]["endpoint-exec-task"]
    assert "endpointExecDo" in task["Templates"][0]["Contents"]
    stage = sections["stages"]["endpoint-exec-true-call"]
    assert stage["Params"]["endpoint-exec/action"] == "true-call"
    assert stage["Tasks"] == ["endpoint-exec-task"]


def test_arguments_are_split_with_shell_quoting(exec_plugin: ProviderUnderTest,
                                                machine: dict[str, Any]) -> None:
    result = run(exec_plugin, "args", """a "b c"  'd  e' f\\ g '$HOME' ; *""")
    assert result["ReturnCode"] == 0, result
    assert result["StandardErr"] == ""
    assert json.loads(result["StandardOut"]) == [
        "--name", "hello world", "-x", "a", "b c", "d  e", "f g", "$HOME", ";", "*"]
    assert list(result) == ["ReturnCode", "StandardErr", "StandardOut"]


def test_parameters_default_to_none(exec_plugin: ProviderUnderTest,
                                    machine: dict[str, Any]) -> None:
    result = run(exec_plugin, "args")
    assert json.loads(result["StandardOut"]) == ["--name", "hello world", "-x"]


def test_unbalanced_quotes_are_an_error(exec_plugin: ProviderUnderTest,
                                        machine: dict[str, Any]) -> None:
    with pytest.raises(PluginError) as info:
        run(exec_plugin, "args", "'unterminated")
    assert info.value.code == 400
    assert "endpoint-exec/parameters cannot be split" in str(info.value)


def test_environment_names_the_machine_and_the_api(exec_plugin: ProviderUnderTest,
                                                   machine: dict[str, Any],
                                                   drp_client: StandInClient) -> None:
    result = run(exec_plugin, "env")
    assert result["ReturnCode"] == 0, result
    seen = json.loads(result["StandardOut"])
    assert seen["uuid"] == machine["Uuid"]
    assert seen["name"] == "m1"  # RS_TOKEN really opens the API at RS_ENDPOINT
    assert seen["endpoint"] == exec_plugin.drp.endpoint


def test_nonzero_exit(exec_plugin: ProviderUnderTest, machine: dict[str, Any]) -> None:
    result = run(exec_plugin, "fail")
    assert result == {"ReturnCode": 3, "StandardErr": "something broke\n",
                      "StandardOut": "partial output\n"}
    quiet = run(exec_plugin, "quiet-fail")
    assert quiet == {"ReturnCode": 4, "StandardErr": "Exec failed: exit status 4",
                     "StandardOut": ""}
    assert run(exec_plugin, "true-call") == {"ReturnCode": 0, "StandardErr": "",
                                            "StandardOut": ""}


def test_command_that_cannot_start(exec_plugin: ProviderUnderTest, machine: dict[str, Any],
                                   tools: dict[str, Any]) -> None:
    """Go's text: ``Exec failed: %v`` of ``exec.Cmd.Run``'s error (provision-plugins,
    cmds/endpoint-exec/endpoint-exec.go, postTrigger): an ``os.PathError`` with Op
    ``fork/exec``, or for a bare name ``exec.LookPath``'s error."""
    result = run(exec_plugin, "missing")
    assert result == {"ReturnCode": -1, "StandardOut": "", "StandardErr":
                      f"Exec failed: fork/exec {tools['actions']['missing']['Path']}: "
                      "no such file or directory"}
    bare = run(exec_plugin, "missing-bare")
    assert bare["StandardErr"] == ('Exec failed: exec: "no-such-command-here": executable file '
                                   "not found in $PATH")


def test_timeout_kills_the_process_group(exec_plugin: ProviderUnderTest,
                                         machine: dict[str, Any],
                                         tools: dict[str, Any]) -> None:
    started = time.monotonic()
    result = run(exec_plugin, "sleeper")
    elapsed = time.monotonic() - started
    assert elapsed < 15
    assert result["ReturnCode"] == -1
    assert result["StandardOut"] == "started\n"
    assert "timed out after 1s" in result["StandardErr"]
    shell_pid, sleep_pid = (int(p) for p in tools["pidfile"].read_text().split())
    for pid in (shell_pid, sleep_pid):
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), f"process {pid} survived the timeout"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too (reaped later by whoever adopted it).
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_output_is_bounded(exec_plugin: ProviderUnderTest, machine: dict[str, Any]) -> None:
    result = run(exec_plugin, "flood")
    assert result["ReturnCode"] == 0
    out, err = result["StandardOut"], result["StandardErr"]
    assert out == "x" * 65536 + f"\n[truncated {10 * 1024 * 1024 - 65536} bytes]"
    assert err == "e" * 65536 + f"\n[truncated {3_000_000 - 65536} bytes]"


def test_background_leftovers_do_not_hold_the_answer(exec_plugin: ProviderUnderTest,
                                                     machine: dict[str, Any],
                                                     tools: dict[str, Any]) -> None:
    started = time.monotonic()
    result = run(exec_plugin, "leaver")
    assert time.monotonic() - started < 10
    assert result == {"ReturnCode": 0, "StandardErr": "", "StandardOut": "done\n"}
    leftover = int(tools["leaver_pidfile"].read_text())
    assert _alive(leftover)  # not killed: only a timeout kills
    os.killpg(os.getpgid(leftover), signal.SIGKILL)  # the command's own process group


def test_stopping_the_plugin_kills_running_commands(exec_plugin: ProviderUnderTest,
                                                    machine: dict[str, Any],
                                                    tools: dict[str, Any]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(_run_or_error, exec_plugin, "sleeper-long")
        pidfile: Path = tools["long_pidfile"]
        deadline = time.monotonic() + 10
        while not (pidfile.exists() and len(pidfile.read_text().split()) == 2):
            assert time.monotonic() < deadline, "the command did not start"
            time.sleep(0.05)
        started = time.monotonic()
        exec_plugin.drp.delete_plugin(exec_plugin.plugin_name)
        outcome = running.result(timeout=30)
        assert isinstance(outcome, PluginError) or outcome["ReturnCode"] == -1
        assert time.monotonic() - started < 15
    for pid in (int(p) for p in pidfile.read_text().split()):
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), f"process {pid} outlived the plugin"


def _run_or_error(plugin: ProviderUnderTest, action: str) -> Any:
    try:
        return run(plugin, action)
    except PluginError as exc:  # the plugin went away under the action: fine
        return exc


def test_unknown_action_names_the_known_ones(exec_plugin: ProviderUnderTest,
                                             machine: dict[str, Any]) -> None:
    with pytest.raises(PluginError) as info:
        run(exec_plugin, "rm-rf")
    assert info.value.code == 404
    text = str(info.value)
    assert "'rm-rf' is not configured" in text
    assert ("known actions: args, env, fail, flood, leaver, missing, missing-bare, quiet-fail, "
            "sleeper, sleeper-long, true-call") in text


def test_missing_action_param(exec_plugin: ProviderUnderTest, machine: dict[str, Any]) -> None:
    with pytest.raises(PluginError) as info:
        exec_plugin.action("endpointExecDo", on="m1", params={})
    assert info.value.code == 400
    assert "endpoint-exec/action" in str(info.value)


def test_action_param_comes_from_the_machine(exec_plugin: ProviderUnderTest,
                                             drp_client: StandInClient) -> None:
    drp_client.create_machine("m2", params={"endpoint-exec/action": "args",
                                            "endpoint-exec/parameters": "from-machine"})
    result = exec_plugin.action("endpointExecDo", on="m2", params={})
    assert json.loads(result["StandardOut"])[-1] == "from-machine"


def test_concurrent_runs(exec_plugin: ProviderUnderTest, drp_client: StandInClient) -> None:
    from concurrent.futures import ThreadPoolExecutor

    for i in range(4):
        drp_client.create_machine(f"c{i}")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: run(exec_plugin, "args", str(i), on=f"c{i}"), range(4)))
    assert [json.loads(r["StandardOut"])[-1] for r in results] == ["0", "1", "2", "3"]


def test_secrets_are_not_logged(drp_provider: Callable[..., ProviderUnderTest],
                                drp_client: StandInClient, tools: dict[str, Any]) -> None:
    actions = dict(tools["actions"])
    actions["secret"] = {"Path": tools["actions"]["args"]["Path"], "BaseArgs": "--pw s3cr3t-base"}
    plugin = drp_provider(PROVIDER, params={"endpoint-exec/actions": actions})
    drp_client.create_machine("m1")
    result = run(plugin, "secret", "--key s3cr3t-param")
    assert json.loads(result["StandardOut"]) == ["--pw", "s3cr3t-base", "--key", "s3cr3t-param"]
    plugin.wait_log("return code 0")
    messages = "\n".join(plugin.log_messages)
    assert "endpointExecDo: running action secret" in messages
    for secret in ("s3cr3t", plugin.drp.token):
        assert secret not in messages


@pytest.mark.slow
def test_bad_config_is_refused(drp_provider: Callable[..., ProviderUnderTest]) -> None:
    for actions, message in [
        ({"a": {"BaseArgs": "x"}}, "Path must be a non-empty string"),
        ({"a": {"Path": "/bin/true", "BaseArgs": "'open"}}, "BaseArgs cannot be split"),
        ({"a": "/bin/true"}, "Invalid type. Expected: object, given: string"),  # param schema
    ]:
        with pytest.raises(PluginError) as info:
            drp_provider(PROVIDER, params={"endpoint-exec/actions": actions})
        assert message in str(info.value)


@pytest.mark.slow
def test_built_single_file(tmp_path: Path, drp_provider: Callable[..., ProviderUnderTest],
                           drp_client: StandInClient, tools: dict[str, Any]) -> None:
    out = tmp_path / "dist" / "endpoint-exec"
    assert build_and_define(PROVIDER, out)["Name"] == "endpoint-exec"
    plugin = drp_provider(out, params={"endpoint-exec/actions": tools["actions"]})
    drp_client.create_machine("m1")
    assert json.loads(run(plugin, "args", "built")["StandardOut"])[-1] == "built"
