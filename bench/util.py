"""Shared pieces of the benchmark suite: statistics, environments, processes, RSS."""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.context
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INCREMENTER = ROOT / "examples" / "incrementer" / "incrementer.py"
PROVIDERS = Path(__file__).resolve().parent / "providers"
PYTHON = sys.executable

#: Processes are forked: the children (sink, floor server, clients) start in
#: milliseconds and share the counters below.  The orchestrator runs no threads.
MP: multiprocessing.context.ForkContext = multiprocessing.get_context("fork")

ACTION_PATH = "/api-plugin/v4/action"
CONFIG_PATH = "/api-plugin/v4/config"
PUBLISH_PATH = "/api-plugin/v4/publish"
STOP_PATH = "/api-plugin/v4/stop"


# -- statistics ----------------------------------------------------------------------------------
def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of an already sorted sequence."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return float(sorted_values[rank - 1])


def summary(values: Sequence[float]) -> dict[str, float]:
    """min / median / max of repeated runs (``values`` in any order)."""
    ordered = sorted(values)
    if not ordered:
        return {"min": float("nan"), "median": float("nan"), "max": float("nan"), "n": 0}
    n = len(ordered)
    mid = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    return {"min": ordered[0], "median": mid, "max": ordered[-1], "n": n}


# -- environment ---------------------------------------------------------------------------------
def child_env(workdir: str | os.PathLike[str], **extra: str) -> dict[str, str]:
    """The environment of a provider: like DRP's, with bytecode caching allowed.

    This sandbox sets ``PYTHONDONTWRITEBYTECODE``; real hosts do not, and without
    ``.pyc`` files every start compiles the whole import graph again.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("RS_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update({
        "RS_TOKEN": "bench-token",
        "RS_ENDPOINT": "https://127.0.0.1:1",
        "RS_FILESERVER": "http://127.0.0.1:1",
        "RS_WEBROOT": os.fspath(workdir),
    })
    # Measure another drp-plugin (e.g. main's, for before/after): its src directory.
    other = os.environ.get("DRP_PLUGIN_BENCH_SRC", "")
    if other:
        env["PYTHONPATH"] = other
    env.update(extra)
    return env


def provider_argv(path: str | os.PathLike[str]) -> list[str]:
    """``.py`` sources run with this interpreter; anything else is executed directly."""
    text = os.path.abspath(os.fspath(path))
    return [PYTHON, text] if text.endswith(".py") else [text]


def rss_kb(pid: int) -> int:
    """Resident memory of ``pid`` in kB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (clock-tick resolution)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def machine_info() -> dict[str, Any]:
    with open("/proc/loadavg", encoding="ascii") as f:
        load = f.read().split()[:3]
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "loadavg": [float(x) for x in load],
            "python": sys.version.split()[0], "platform": sys.platform}


@contextmanager
def scratch(prefix: str = "drp-bench-") -> Iterator[Path]:
    """A short temporary directory (unix socket paths are limited to 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- one provider process -----------------------------------------------------------------------
class ProviderProcess:
    """``<argv> listen <to> <from>``: spawn, wait for ``READY!``, stop, RSS."""

    def __init__(self, argv: Sequence[str], workdir: Path, from_path: str,
                 env: dict[str, str] | None = None, to_name: str = "to.sock") -> None:
        self.argv = list(argv)
        self.workdir = workdir
        self.to_path = str(workdir / to_name)
        self.from_path = from_path
        self.env = env if env is not None else child_env(workdir)
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr_path = workdir / f"{to_name}.stderr"
        self.ready_s = float("nan")

    def start(self, timeout: float = 30.0) -> float:
        """Spawn and return the seconds from spawn to the ``READY!`` line."""
        with open(self.stderr_path, "ab") as err:
            t0 = time.perf_counter()
            self.proc = subprocess.Popen(
                [*self.argv, "listen", self.to_path, self.from_path],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                env=self.env, cwd=self.workdir, bufsize=0,
            )
            assert self.proc.stdout is not None
            fd = self.proc.stdout.fileno()
            buf = b""
            while b"\n" not in buf:
                left = timeout - (time.perf_counter() - t0)
                ready, _, _ = select.select([fd], [], [], max(left, 0))
                if not ready:
                    self.kill()
                    raise RuntimeError(f"no READY! within {timeout}s: {self.stderr()}")
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                buf += chunk
            self.ready_s = time.perf_counter() - t0
        line = buf.split(b"\n", 1)[0].decode(errors="replace")
        if line != "READY!":
            self.kill()
            raise RuntimeError(f"provider did not get ready: {line!r}; stderr: {self.stderr()}")
        return self.ready_s

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_kb(self) -> int:
        return rss_kb(self.pid)

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def request(self, path: str, body: Any) -> tuple[int, bytes]:
        from .client import one_request

        return one_request(self.to_path, path, json.dumps(body).encode())

    def config(self, params: dict[str, Any] | None = None) -> tuple[int, bytes]:
        return self.request(CONFIG_PATH, params if params is not None else {"Name": "bench"})

    def action(self, command: str, params: dict[str, Any] | None = None,
               model: Any = None) -> tuple[int, bytes]:
        return self.request(ACTION_PATH, action_body(command, params, model))

    def stop(self, timeout: float = 10.0) -> int | None:
        """``/stop`` (body ``null``) and wait; kill when it does not exit."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                from .client import one_request

                one_request(self.to_path, STOP_PATH, b"null", timeout=timeout)
            except OSError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def action_body(command: str, params: dict[str, Any] | None = None, model: Any = None) -> dict[str, Any]:
    """A ``models.Action`` as DRP sends it."""
    return {"Command": command, "Plugin": "bench", "Model": model, "Params": params or {}}


def machine_object(size: int) -> dict[str, Any]:
    """A machine-like object whose JSON is ``size`` bytes (padding in a param)."""
    machine: dict[str, Any] = {
        "Uuid": "3e7031fe-3062-45f1-835c-92541bc9cbd3", "Name": "bench-m1",
        "Address": "10.0.0.10", "Stage": "discover", "BootEnv": "sledgehammer",
        "Workflow": "", "Runnable": True, "Available": True, "Errors": [],
        "Params": {"bench/pad": ""},
    }
    base = len(json.dumps(machine).encode())
    machine["Params"]["bench/pad"] = "x" * max(0, size - base)
    return machine


def event_body() -> bytes:
    """The body of one ``POST /publish``: a machine update event (~1.2 KB), as DRP sends it."""
    return json.dumps({
        "Time": "2026-11-26T11:00:10.281325352Z", "Type": "machines", "Action": "update",
        "Key": "3e7031fe-3062-45f1-835c-92541bc9cbd3", "Principal": "user:rocketskates",
        "Object": machine_object(512), "Original": None,
    }).encode()
