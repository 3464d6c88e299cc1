"""endpoint-exec under adversarial commands (issue 16, items 6-9; issue 14, item 12).

- a grandchild that called ``setsid()``, and a double-forked daemon, die with a timed-out
  command;
- daemonized children holding the command's output do not pile up fds in the provider;
- a failed ``os.pipe()`` (EMFILE) leaks nothing;
- ``OperandsOnly`` puts ``--`` before the machine's parameters; ``endpoint-exec/minimal-env``
  and ``"Token": false`` trim the environment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drp_plugin.testing.fixtures import ProviderUnderTest, StandInClient

from .test_endpoint_exec import PROVIDER, _alive, run, script

PY = sys.executable


def _wait_dead(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


@pytest.fixture
def escapers(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Commands whose descendants leave the process group, and their pid files."""
    setsid = script(tmp_path, "setsid.py", """
        import os, sys, time
        if os.fork() == 0:                     # a grandchild in a session of its own
            os.setsid()
            with open(sys.argv[1], "a") as fh:
                fh.write(f"{os.getpid()}\\n")
            if os.fork() == 0:                 # and a daemon: double fork, orphaned
                os.setsid()
                with open(sys.argv[1], "a") as fh:
                    fh.write(f"{os.getpid()}\\n")
                time.sleep(120)
                os._exit(0)
            time.sleep(120)
            os._exit(0)
        time.sleep(120)
    """, PY)
    daemon = script(tmp_path, "daemon.sh", """
        # A background child that keeps the command's stdout and stderr open.
        sleep 120 &
        echo $! >> "$1"
        echo started
    """)
    pids = tmp_path / "pids"
    daemon_pids = tmp_path / "daemon-pids"
    yield {"pids": pids, "daemon_pids": daemon_pids, "actions": {
        "setsid": {"Path": setsid, "BaseArgs": str(pids), "Timeout": 1},
        "daemon": {"Path": daemon, "BaseArgs": str(daemon_pids)},
    }}
    for path in (pids, daemon_pids):
        if path.exists():
            _kill_all([int(p) for p in path.read_text().split()])


@pytest.fixture
def machine(drp_client: StandInClient) -> dict[str, Any]:
    return drp_client.create_machine("m1")


@pytest.mark.slow
def test_a_timeout_kills_processes_that_left_the_group(
    drp_provider: Callable[..., ProviderUnderTest], machine: dict[str, Any],
    escapers: dict[str, Any],
) -> None:
    """On main the kill went to the process group only: a grandchild that called setsid()
    survived, though the answer said "process group killed"."""
    plugin = drp_provider(PROVIDER, params={"endpoint-exec/actions": escapers["actions"]})
    result = run(plugin, "setsid")
    assert result["ReturnCode"] == -1
    assert "timed out after 1s; the command and every process it started were killed" in \
        result["StandardErr"]
    pids = [int(p) for p in escapers["pids"].read_text().split()]
    assert len(pids) == 2
    for pid in pids:
        assert _wait_dead(pid), f"process {pid} survived the timeout"


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.slow
def test_daemonized_children_do_not_pile_up_fds(
    drp_provider: Callable[..., ProviderUnderTest], machine: dict[str, Any],
    escapers: dict[str, Any],
) -> None:
    """On main 20 such runs took the provider from 10 to 50 fds, for good."""
    plugin = drp_provider(PROVIDER, params={"endpoint-exec/actions": escapers["actions"]})
    process = plugin.drp.standin.providers.running[plugin.plugin_name].process.proc
    assert process is not None
    pid = process.pid
    assert run(plugin, "daemon")["StandardOut"] == "started\n"  # warm up (imports, loggers)
    before = _fds(pid)
    for _ in range(10):
        assert run(plugin, "daemon") == {"ReturnCode": 0, "StandardErr": "",
                                         "StandardOut": "started\n"}
    daemons = [int(p) for p in escapers["daemon_pids"].read_text().split()]
    assert len(daemons) == 11 and all(_alive(d) for d in daemons)  # not killed, still there
    assert _fds(pid) <= before + 2


EMFILE = textwrap.dedent("""
    import asyncio, json, os, resource, sys
    sys.path.insert(0, sys.argv[1])
    import endpoint_exec

    def lowest_free_pair():
        a, b = os.pipe()
        os.close(a)
        os.close(b)
        return a, b

    async def main():
        a, b = lowest_free_pair()
        before = sorted(os.listdir("/proc/self/fd"))
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        # Room for exactly one pipe: the second os.pipe() fails with EMFILE.
        resource.setrlimit(resource.RLIMIT_NOFILE, (b + 1, hard))
        result = await endpoint_exec.execute("/bin/true", [], dict(os.environ), 5, 1024,
                                            endpoint_exec.State())
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        after = sorted(os.listdir("/proc/self/fd"))
        print(json.dumps({"result": result, "leaked": len(after) - len(before)}))

    asyncio.run(main())
""")


def test_a_failed_pipe_leaks_no_fd() -> None:
    """On main the two pipes were made outside the ``try``: when the second one hit
    EMFILE the first one's fds leaked for good (and the error escaped)."""
    done = subprocess.run([PY, "-c", EMFILE, str(PROVIDER.parent)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["result"] == {"ReturnCode": -1, "StandardOut": "",
                                 "StandardErr": "Exec failed: pipe: too many open files"}
    assert outcome["leaked"] == 0


@pytest.fixture
def shown(tmp_path: Path) -> dict[str, Any]:
    args = script(tmp_path, "args.py", "import json, sys\nprint(json.dumps(sys.argv[1:]))\n", PY)
    env = script(tmp_path, "env.py", "import json, os\nprint(json.dumps(dict(os.environ)))\n",
                 PY)
    return {
        "ssh-like": {"Path": args, "BaseArgs": "-T host", "OperandsOnly": True},
        "ssh-like-open": {"Path": args, "BaseArgs": "-T host"},
        "env": {"Path": env},
        "env-no-token": {"Path": env, "Token": False},
        "bare-true": {"Path": "true"},
    }


def test_parameters_can_be_operands_only(drp_provider: Callable[..., ProviderUnderTest],
                                         machine: dict[str, Any],
                                         shown: dict[str, Any]) -> None:
    plugin = drp_provider(PROVIDER, params={"endpoint-exec/actions": shown})
    hostile = "-oProxyCommand='touch /tmp/pwned' target"
    assert json.loads(run(plugin, "ssh-like", hostile)["StandardOut"]) == [
        "-T", "host", "--", "-oProxyCommand=touch /tmp/pwned", "target"]
    assert json.loads(run(plugin, "ssh-like")["StandardOut"]) == ["-T", "host"]
    # Without it, as in Go, the parameters may be options.
    assert json.loads(run(plugin, "ssh-like-open", hostile)["StandardOut"]) == [
        "-T", "host", "-oProxyCommand=touch /tmp/pwned", "target"]
    # A bare Path is looked up on PATH (Go's exec.LookPath).
    assert run(plugin, "bare-true")["ReturnCode"] == 0


def test_the_environment_can_be_minimal(drp_provider: Callable[..., ProviderUnderTest],
                                        machine: dict[str, Any], shown: dict[str, Any]) -> None:
    full = drp_provider(PROVIDER, params={"endpoint-exec/actions": shown})
    env = json.loads(run(full, "env")["StandardOut"])
    assert {"RS_UUID", "RS_ENDPOINT", "RS_TOKEN", "ENDPOINT_EXEC_RUN"} <= set(env)
    assert env["RS_UUID"] == machine["Uuid"]
    assert "RS_WEBROOT" in env  # the plugin's own environment, as with the Go provider
    assert "RS_TOKEN" not in json.loads(run(full, "env-no-token")["StandardOut"])

    minimal = drp_provider(PROVIDER, params={"endpoint-exec/actions": shown,
                                             "endpoint-exec/minimal-env": True})
    env = json.loads(run(minimal, "env")["StandardOut"])
    assert set(env) <= {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME",
                        "RS_UUID", "RS_ENDPOINT", "RS_TOKEN", "ENDPOINT_EXEC_RUN"}, set(env)
    assert {"PATH", "RS_UUID", "RS_ENDPOINT", "RS_TOKEN"} <= set(env)
    assert env["RS_ENDPOINT"] == minimal.drp.endpoint
