"""The benchmark sections.  Each returns a JSON-able dict; ``run_all`` runs them all."""

from __future__ import annotations

import json
import os
import subprocess
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .client import LoadResult, run_load
from .providers.generate import command as generated_command
from .providers.generate import generate
from .servers import Floor, RawFloor, Sink
from .util import (
    ACTION_PATH,
    INCREMENTER,
    PROVIDERS,
    PUBLISH_PATH,
    PYTHON,
    ROOT,
    ProviderProcess,
    action_body,
    child_env,
    cpu_seconds,
    event_body,
    machine_object,
    provider_argv,
    scratch,
    summary,
)
from .ws_events import bench_websocket

#: Log lines ``incrstatus`` (and each generated action) sends per call.
LINES_PER_ACTION = 1


@dataclass
class Plan:
    """How much of everything: ``full`` for a real run, ``quick`` for CI (< 60 s)."""

    quick: bool
    define_reps: int
    spawn_reps: int
    action_reps: int
    actions_1: int
    actions_4: int
    warmup: int
    event_reps: int
    events: int
    rss_seconds: float
    growth_reps: int
    growth_actions: int
    body_counts: dict[str, int]

    @classmethod
    def make(cls, quick: bool) -> Plan:
        if quick:
            return cls(quick=True, define_reps=5, spawn_reps=3, action_reps=2, actions_1=1500,
                       actions_4=3000, warmup=300, event_reps=2, events=3000, rss_seconds=2.0,
                       growth_reps=1, growth_actions=200,
                       body_counts={"1KB": 200, "100KB": 50, "1MB": 8})
        return cls(quick=False, define_reps=20, spawn_reps=10, action_reps=5, actions_1=15000,
                   actions_4=30000, warmup=1000, event_reps=3, events=40000, rss_seconds=60.0,
                   growth_reps=3, growth_actions=3000,
                   body_counts={"1KB": 3000, "100KB": 600, "1MB": 80})


BODY_SIZES = {"1KB": 1024, "100KB": 100 * 1024, "1MB": 1024 * 1024}


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _ratio(values: list[float], floor: list[float]) -> dict[str, float]:
    """``values`` over ``floor``, pairwise (interleaved samples share the noise)."""
    pairs = [v / f for v, f in zip(values, floor, strict=True) if f]
    return summary([round(x, 3) for x in pairs])


#: The Go reference incrementer measured side by side (issue 11): actions/s with every
#: log line delivered, two rounds of 5 s.  ``DRP_PLUGIN_BENCH_GO`` measures it again.
GO_RECORDED = {1: (1644.0, 1648.0), 4: (3440.0, 3808.0)}
GO_ENV = "DRP_PLUGIN_BENCH_GO"


# -- 1. define ---------------------------------------------------------------------------------
def _timed_run(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    t0 = time.perf_counter()
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=env, cwd=cwd,
                          timeout=60, check=False)
    return time.perf_counter() - t0, done


def _check_define(done: subprocess.CompletedProcess[bytes], what: str) -> None:
    if done.returncode != 0 or done.stderr:
        raise RuntimeError(f"{what} define failed ({done.returncode}): {done.stderr[-500:]!r}")
    definition = json.loads(done.stdout)
    if definition.get("PluginVersion") != 4:
        raise RuntimeError(f"{what} define printed no v4 definition")


class Built:
    """A provider (default: the incrementer) built into one file (``drp-plugin build``),
    once per run."""

    def __init__(self, source: Path = INCREMENTER) -> None:
        self.source = source
        self.path: Path | None = None
        self.reason = "not built yet"
        self.interpreter: list[str] = []

    def prepare(self, directory: Path) -> None:
        env = child_env(directory)
        tool = ROOT / ".venv" / "bin" / "drp-plugin"
        argv = [str(tool)] if tool.exists() else [PYTHON, "-m", "drp_plugin.tool"]
        probe = subprocess.run([*argv, "build", "--help"], capture_output=True, env=env,
                               cwd=ROOT, timeout=60, check=False)
        if probe.returncode != 0:
            self.reason = f"`drp-plugin build --help` fails: {_last_line(probe)}"
            return
        out = directory / self.source.stem
        built = subprocess.run([*argv, "build", str(self.source), "-o", str(out), "-q"],
                               capture_output=True, env=env, cwd=ROOT, timeout=600, check=False)
        if built.returncode != 0 or not out.exists():
            self.reason = f"`drp-plugin build` failed: {_last_line(built)}"
            return
        self.path, self.reason = out, ""
        self.interpreter = _system_python()

    def argv(self) -> list[str]:
        """How a host runs it: its ``#!`` line, or the system python3 (see ``_system_python``)."""
        assert self.path is not None
        return [*self.interpreter, str(self.path)] if self.interpreter else [str(self.path)]


def _last_line(done: subprocess.CompletedProcess[bytes]) -> str:
    lines = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else f"exit {done.returncode}"


def _system_python() -> list[str]:
    """``/usr/bin/python3`` when it is >= 3.11 (what a DRP host's ``#!/usr/bin/env python3``
    finds); here ``python3`` on PATH is a pyenv shim that adds ~100 ms per start.
    Empty: run the file through its ``#!`` line."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.access(candidate, os.X_OK):
            done = subprocess.run([candidate, "-c", "import sys; print(sys.version_info >= (3, 11))"],
                                  capture_output=True, timeout=30, check=False)
            if done.stdout.strip() == b"True":
                return [candidate]
    return []


BUILT = Built()


def bench_define(plan: Plan) -> dict[str, Any]:
    with scratch() as tmp:
        env = child_env(tmp)
        runs: dict[str, list[str]] = {
            "floor": [PYTHON, "-c", "pass"],
            "floor_isolated": [PYTHON, "-I", "-c", "pass"],
            "source": [*provider_argv(INCREMENTER), "define"],
        }
        if BUILT.path is not None:
            # As dr-provision runs it: the file itself (its /bin/sh header answers define).
            runs["built"] = [str(BUILT.path), "define"]
            # Through an interpreter named on the command line (runpy and zipimport load).
            runs["built_python"] = [*(BUILT.interpreter or [PYTHON]), str(BUILT.path), "define"]
            if BUILT.interpreter:
                runs["floor_system"] = [*BUILT.interpreter, "-c", "pass"]
                runs["floor_system_isolated"] = [*BUILT.interpreter, "-I", "-c", "pass"]
        samples: dict[str, list[float]] = {k: [] for k in runs}
        for name, argv in runs.items():  # warm once: .pyc files, content cache
            _, done = _timed_run(argv, env, tmp)
            if not name.startswith("floor"):
                _check_define(done, name)
        for _ in range(plan.define_reps):  # interleaved, so they share the noise
            for name, argv in runs.items():
                seconds, done = _timed_run(argv, env, tmp)
                if not name.startswith("floor"):
                    _check_define(done, name)
                samples[name].append(_ms(seconds))
        result: dict[str, Any] = {k: {**summary(v), "samples_ms": v} for k, v in samples.items()}
        result["floor"]["command"] = f"{PYTHON} -c pass"
        result["floor_isolated"]["command"] = f"{PYTHON} -I -c pass"
        # Issue 11: define <= 1.3x `python3 -I -c pass` of the same interpreter, same run.
        result["ratio_source"] = _ratio(samples["source"], samples["floor_isolated"])
        if "built" in samples:
            floor = samples.get("floor_system_isolated", samples["floor_isolated"])
            result["ratio_built"] = _ratio(samples["built"], floor)
            result["ratio_built_python"] = _ratio(samples["built_python"], floor)
        result["source"]["command"] = " ".join(runs["source"])
        if BUILT.path is None:
            result["built"] = {"skipped": BUILT.reason}
        else:
            result["built"]["command"] = " ".join(runs["built"])
            result["built_python"]["command"] = " ".join(runs["built_python"])
            result["built"]["size_bytes"] = BUILT.path.stat().st_size
            if "floor_system" in result:
                result["floor_system"]["command"] = " ".join(runs["floor_system"])
        return result


# -- 2. spawn to READY! ---------------------------------------------------------------------------
def bench_spawn(plan: Plan) -> dict[str, Any]:
    kinds = {"floor": [PYTHON, "-c", "import sys; sys.stdout.write('READY!\\n'); sys.stdout.flush()"],
             "source": provider_argv(INCREMENTER)}
    if BUILT.path is not None:
        kinds["built"] = BUILT.argv()
    # "source" runs on the default loop; with uvloop installed, also on asyncio's.
    loops = {"source_asyncio": "asyncio"} if default_loop() == "uvloop" else {}
    for kind in loops:
        kinds[kind] = provider_argv(INCREMENTER)
    # Issue 11: spawn to READY! <= 1.25x `python3 -I -c "import asyncio"` (same run).
    asyncio_floors = {"source": [PYTHON, "-I", "-c", "import asyncio"]}
    if BUILT.path is not None:
        asyncio_floors["built"] = [*(BUILT.interpreter or [PYTHON]), "-I", "-c", "import asyncio"]
    floor_asyncio: dict[str, list[float]] = {k: [] for k in asyncio_floors}
    ready: dict[str, list[float]] = {k: [] for k in kinds}
    rss_ready: list[float] = []
    rss_config: list[float] = []
    with scratch() as tmp, Sink(str(tmp / "from.sock")) as sink:
        env = child_env(tmp)
        for i in range(plan.spawn_reps + 1):  # the first round warms the .pyc files
            for kind, argv in kinds.items():
                kind_env = {**env, "DRP_PLUGIN_LOOP": loops[kind]} if kind in loops else env
                p = ProviderProcess(argv, tmp, sink.path, kind_env, to_name=f"{kind}{i}.sock")
                seconds = p.start()
                try:
                    if kind != "floor":
                        r_ready = p.rss_kb()
                        status, reply = p.config()
                        if status != 200:
                            raise RuntimeError(f"config: {status} {reply!r}")
                        r_config = p.rss_kb()
                        if i and kind == "source":
                            rss_ready.append(r_ready / 1024)
                            rss_config.append(r_config / 1024)
                finally:
                    p.stop()
                if i:
                    ready[kind].append(_ms(seconds))
                if kind in asyncio_floors:
                    seconds, _ = _timed_run(asyncio_floors[kind], env, tmp)
                    if i:
                        floor_asyncio[kind].append(_ms(seconds))
    result: dict[str, Any] = {
        "ready_ms": {**summary(ready["source"]), "samples": ready["source"]},
        "floor_ms": {**summary(ready["floor"]), "samples": ready["floor"],
                     "command": "python -c \"print('READY!')\" (same interpreter)"},
        "rss_ready_mb": summary(rss_ready),
        "rss_config_mb": summary(rss_config),
    }
    for kind, samples in floor_asyncio.items():
        result[f"floor_asyncio_{kind}_ms"] = {**summary(samples), "samples": samples,
                                              "command": " ".join(asyncio_floors[kind])}
        result[f"ratio_{kind}"] = _ratio(ready[kind], samples)
    result["loop"] = default_loop()
    if "source_asyncio" in ready:
        result["ready_source_asyncio_ms"] = {**summary(ready["source_asyncio"]),
                                             "samples": ready["source_asyncio"]}
        result["ratio_source_asyncio"] = _ratio(ready["source_asyncio"], floor_asyncio["source"])
    if "built" in ready:
        result["ready_built_ms"] = {**summary(ready["built"]), "samples": ready["built"],
                                    "command": " ".join(kinds["built"])}
    else:
        result["ready_built_ms"] = {"skipped": BUILT.reason}
    return result


# -- 3. actions ---------------------------------------------------------------------------------------
def _provider_run(prov: ProviderProcess, sink: Sink, body: bytes, conns: int, total: int,
                  path: str = ACTION_PATH, lines_per: int = LINES_PER_ACTION,
                  expect_reply: bytes | None = b'"Running"\n') -> dict[str, Any]:
    """One measured run; an action counts as done when its log lines reached the sink."""
    before = sink.lines
    cpu0, sink_cpu0 = cpu_seconds(prov.pid), cpu_seconds(sink.pid)
    res = run_load(prov.to_path, path, body, conns=conns, total=total)
    lines = sink.wait_lines(before + res.requests * lines_per) - before if lines_per else 0
    cpu, sink_cpu = cpu_seconds(prov.pid) - cpu0, cpu_seconds(sink.pid) - sink_cpu0
    end_ns = max(res.end_ns, sink.last_line_ns) if lines else res.end_ns
    out = _load_stats(res)
    if expect_reply is not None and res.reply != expect_reply:
        out["errors"] += 1
        out["first_error"] = out["first_error"] or f"unexpected reply {res.reply!r}"
    # Done = answered AND its log lines reached the sink; dropped lines never complete.
    done = min(res.requests, lines // lines_per) if lines_per else res.requests
    out.update({
        "log_lines": lines,
        "lines_per_action": round(lines / res.requests, 4) if res.requests else 0.0,
        "log_tail_ms": _ms((sink.last_line_ns - res.end_ns) / 1e9) if lines else None,
        "per_s": round(done / ((end_ns - res.start_ns) / 1e9), 1) if res.requests else 0.0,
        "provider_cpu_us_per_action": round(cpu * 1e6 / res.requests, 1) if res.requests else 0.0,
        "sink_cpu_us_per_line": round(sink_cpu * 1e6 / lines, 1) if lines else 0.0,
    })
    return out


def _load_stats(res: LoadResult) -> dict[str, Any]:
    return {
        "conns": res.conns,
        "requests": res.requests,
        "errors": res.errors,
        "first_error": res.first_error,
        "seconds": round(res.seconds, 4),
        "responses_per_s": round(res.requests / res.seconds, 1) if res.seconds > 0 else 0.0,
        "p50_ms": round(res.latency_ms(50), 4),
        "p99_ms": round(res.latency_ms(99), 4),
        "max_ms": round(res.latency_ms(100), 4),
    }


def _floor_run(floor: Floor | RawFloor, body: bytes, conns: int, total: int) -> dict[str, Any]:
    cpu0 = cpu_seconds(floor.pid)
    res = run_load(floor.path, ACTION_PATH, body, conns=conns, total=total)
    cpu = cpu_seconds(floor.pid) - cpu0
    out = _load_stats(res)
    out["per_s"] = out["responses_per_s"]
    out["cpu_us_per_request"] = round(cpu * 1e6 / res.requests, 1) if res.requests else 0.0
    return out


def _runs_summary(runs: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: summary([r[k] for r in runs]) for k in keys}


def _started(prov: ProviderProcess, sink: Sink | None = None) -> ProviderProcess:
    """Spawn, configure, and let the config's log lines reach the sink."""
    prov.start()
    status, reply = prov.config()
    if status != 200:
        prov.stop()
        raise RuntimeError(f"config: {status} {reply!r}; stderr: {prov.stderr()}")
    if sink is not None:
        sink.settle()
    return prov


def bench_actions(plan: Plan) -> dict[str, Any]:
    body = json.dumps(action_body("incrstatus")).encode()
    keys = ("per_s", "responses_per_s", "p50_ms", "p99_ms", "lines_per_action", "errors",
            "provider_cpu_us_per_action", "sink_cpu_us_per_line")
    result: dict[str, Any] = {"body_bytes": len(body), "lines_expected_per_action": LINES_PER_ACTION}
    with scratch() as tmp, Sink(str(tmp / "from.sock")) as sink, \
            Floor(str(tmp / "floor.sock")) as floor:
        prov = _started(ProviderProcess(provider_argv(INCREMENTER), tmp, sink.path), sink)
        # The built file on the host's python3 too (what DRP runs; it carries no uvloop).
        built = _started(ProviderProcess(BUILT.argv(), tmp, sink.path, to_name="built.sock"),
                         sink) if BUILT.path is not None else None
        try:
            _provider_run(prov, sink, body, 1, plan.warmup)  # warm-up, not recorded
            _floor_run(floor, body, 1, plan.warmup)
            runs: dict[str, list[dict[str, Any]]] = {"provider_1": [], "floor_1": [],
                                                     "provider_4": [], "floor_4": []}
            if built is not None:
                _provider_run(built, sink, body, 1, plan.warmup)
                runs.update({"built_1": [], "built_4": []})
            for _ in range(plan.action_reps):  # interleaved: provider and floor share the noise
                runs["provider_1"].append(_provider_run(prov, sink, body, 1, plan.actions_1))
                runs["floor_1"].append(_floor_run(floor, body, 1, plan.actions_1))
                if built is not None:
                    runs["built_1"].append(_provider_run(built, sink, body, 1, plan.actions_1))
                runs["provider_4"].append(_provider_run(prov, sink, body, 4, plan.actions_4))
                runs["floor_4"].append(_floor_run(floor, body, 4, plan.actions_4))
                if built is not None:
                    runs["built_4"].append(_provider_run(built, sink, body, 4, plan.actions_4))
            result["rss_after_mb"] = round(prov.rss_kb() / 1024, 2)
        finally:
            prov.stop()
            if built is not None:
                built.stop()
        if built is None:
            result["built"] = {"skipped": BUILT.reason}
        result["go"] = _go_runs(plan, tmp, sink, body)
    for name, rs in runs.items():
        result[name] = {"runs": rs, **_runs_summary(rs, keys if not name.startswith("floor")
                                                    else ("per_s", "p50_ms", "p99_ms", "errors",
                                                          "cpu_us_per_request"))}
    for conns in (1, 4):
        fractions = [p["per_s"] / f["per_s"] for p, f in
                     zip(runs[f"provider_{conns}"], runs[f"floor_{conns}"], strict=True) if f["per_s"]]
        result[f"fraction_of_floor_{conns}"] = summary([round(x, 4) for x in fractions])
    return result


def _go_runs(plan: Plan, tmp: Path, sink: Sink, body: bytes) -> dict[str, Any]:
    """The Go reference provider on the same sink and load, when ``DRP_PLUGIN_BENCH_GO``
    names it; else the recorded figures."""
    go = os.environ.get(GO_ENV, "")
    if not go:
        return {"source": "recorded (issue 11)",
                **{f"per_s_{c}": {"min": lo, "median": hi, "max": hi}
                   for c, (lo, hi) in GO_RECORDED.items()}}
    prov = _started(ProviderProcess([go], tmp, sink.path), sink)
    try:
        before = sink.lines
        run_load(prov.to_path, ACTION_PATH, body, conns=1, total=plan.warmup)
        per = max(1, round((sink.wait_lines(before + plan.warmup) - before) / plan.warmup))
        out: dict[str, Any] = {"source": f"measured: {go}", "lines_per_action": per}
        for conns, total in ((1, plan.actions_1), (4, plan.actions_4)):
            runs = [_provider_run(prov, sink, body, conns, total, lines_per=per,
                                  expect_reply=None) for _ in range(plan.action_reps)]
            out[f"per_s_{conns}"] = summary([r["per_s"] for r in runs])
            out[f"p99_ms_{conns}"] = summary([r["p99_ms"] for r in runs])
        return out
    finally:
        prov.stop()


# -- 4. events --------------------------------------------------------------------------------------
def _count(prov: ProviderProcess) -> int:
    status, reply = prov.action("count")
    if status != 200:
        raise RuntimeError(f"count action: {status} {reply!r}")
    return int(json.loads(reply)["events"])


def default_loop() -> str:
    """The loop a provider started here runs on (``DRP_PLUGIN_LOOP``, default ``auto``)."""
    from drp_plugin.protocol.settings import ListenSettings, loop_in_use

    return loop_in_use(ListenSettings.from_env().loop)


def bench_events(plan: Plan) -> dict[str, Any]:
    body = event_body()
    result: dict[str, Any] = {"body_bytes": len(body), "conns": 4}
    # "async" and "sync" run on the default loop (DRP_PLUGIN_LOOP=auto: uvloop when it is
    # installed); with uvloop installed, "async_asyncio" measures asyncio's loop beside it.
    result["loop"] = default_loop()
    variants: list[tuple[str, dict[str, str]]] = [("async", {}),
                                                  ("sync", {"BENCH_PUBLISH_SYNC": "1"})]
    if result["loop"] == "uvloop":
        variants.insert(1, ("async_asyncio", {"DRP_PLUGIN_LOOP": "asyncio"}))
    for variant, extra in variants:
        with scratch() as tmp, Sink(str(tmp / "from.sock")) as sink:
            prov = _started(ProviderProcess(provider_argv(PROVIDERS / "publish_counter.py"), tmp,
                                            sink.path, child_env(tmp, **extra)))
            try:
                run_load(prov.to_path, PUBLISH_PATH, body, conns=4, total=plan.warmup)
                runs = []
                for _ in range(plan.event_reps):
                    before = _count(prov)
                    cpu0 = cpu_seconds(prov.pid)
                    res = run_load(prov.to_path, PUBLISH_PATH, body, conns=4, total=plan.events)
                    cpu = cpu_seconds(prov.pid) - cpu0
                    handled = _count(prov) - before
                    run = _load_stats(res)
                    run.update({"sent": plan.events, "handled": handled,
                                "lost": plan.events - handled,
                                "provider_cpu_us_per_event": round(cpu * 1e6 / plan.events, 1)})
                    runs.append(run)
                rss = prov.rss_kb() / 1024
            finally:
                prov.stop()
        result[variant] = {"runs": runs, "rss_after_mb": round(rss, 2),
                           "lost_total": sum(r["lost"] for r in runs),
                           **_runs_summary(runs, ("responses_per_s", "p50_ms", "p99_ms", "errors",
                                                  "provider_cpu_us_per_event"))}
    result["websocket"] = bench_websocket(plan.events, plan.event_reps, plan.warmup)
    return result


# -- 5. RSS under sustained actions ----------------------------------------------------------------------
def bench_rss(plan: Plan) -> dict[str, Any]:
    """Sustained load (60 s each on 1 and on 4 connections): RSS over time, and every log
    line delivered (issue 11: delivered == emitted, nothing dropped or still queued)."""
    body = json.dumps(action_body("incrstatus")).encode()
    phases: dict[str, Any] = {}
    with scratch() as tmp, Sink(str(tmp / "from.sock")) as sink:
        prov = ProviderProcess(provider_argv(INCREMENTER), tmp, sink.path)
        prov.start()
        try:
            rss_ready = prov.rss_kb()
            status, _ = prov.config()
            rss_config = prov.rss_kb()
            for conns in (1, 4):
                before = sink.settle()
                res = run_load(prov.to_path, ACTION_PATH, body, conns=conns,
                               duration=plan.rss_seconds, sample=prov.rss_kb)
                emitted = res.requests * LINES_PER_ACTION
                lines = sink.wait_lines(before + emitted) - before
                end_ns = max(res.end_ns, sink.last_line_ns)
                phases[str(conns)] = {
                    "actions": res.requests, "errors": res.errors,
                    "emitted": emitted, "delivered": lines, "not_delivered": emitted - lines,
                    "lines_per_action": round(lines / res.requests, 4) if res.requests else 0.0,
                    "per_s": round(min(res.requests, lines // LINES_PER_ACTION)
                                   / ((end_ns - res.start_ns) / 1e9), 1) if res.requests else 0.0,
                    "p99_ms": round(res.latency_ms(99), 4),
                    "samples": [{"t": t, "rss_mb": round(kb / 1024, 2)} for t, kb in res.samples],
                    "during_kb": [kb for t, kb in res.samples if t > 0],
                }
            time.sleep(1.0)
            rss_after = prov.rss_kb()
        finally:
            prov.stop()
    during = phases["1"].pop("during_kb") + phases["4"].pop("during_kb")
    third = max(1, len(during) // 3)
    steady = summary([kb / 1024 for kb in during[len(during) // 2:]])
    growth = (summary(during[-third:])["median"] - summary(during[:third])["median"]) / 1024
    return {
        "seconds": plan.rss_seconds,
        "conns": 4,
        "config_status": status,
        "phases": phases,
        "actions": sum(p["actions"] for p in phases.values()),
        "errors": sum(p["errors"] for p in phases.values()),
        "lines_per_action": min(p["lines_per_action"] for p in phases.values()),
        "rss_ready_mb": round(rss_ready / 1024, 2),
        "rss_config_mb": round(rss_config / 1024, 2),
        "peak_mb": round(max(during, default=0) / 1024, 2),
        "steady_mb": steady,
        "growth_mb": round(growth, 2),
        "after_mb": round(rss_after / 1024, 2),
    }


# -- 6. cost growth ---------------------------------------------------------------------------------------
def _rotations(keys: list[str], reps: int) -> list[list[str]]:
    """Run orders that put every key first once in a while (no order bias)."""
    return [keys[i % len(keys):] + keys[:i % len(keys)] for i in range(reps)]


def bench_growth(plan: Plan) -> dict[str, Any]:
    """Interleaved: the providers (or body sizes) take turns within each repetition."""
    keys = ("p50_ms", "p99_ms", "responses_per_s", "lines_per_action", "errors",
            "provider_cpu_us_per_action")
    result: dict[str, Any] = {"actions": {}, "bodies": {}}
    with scratch() as tmp, Sink(str(tmp / "from.sock")) as sink:
        provs: dict[str, ProviderProcess] = {}
        bodies: dict[str, bytes] = {}
        try:
            for n in (1, 10, 100):
                provs[str(n)] = _started(ProviderProcess(provider_argv(generate(tmp, n)), tmp,
                                                         sink.path, to_name=f"gen{n}.sock"), sink)
                bodies[str(n)] = json.dumps(action_body(generated_command(n - 1))).encode()
            runs: dict[str, list[dict[str, Any]]] = {k: [] for k in provs}
            for k in provs:
                _provider_run(provs[k], sink, bodies[k], 1, plan.warmup // 3)
            for order in _rotations(list(provs), plan.growth_reps):
                for k in order:
                    runs[k].append(_provider_run(provs[k], sink, bodies[k], 1, plan.growth_actions))
        finally:
            for prov in provs.values():
                prov.stop()
        for k, rs in runs.items():
            result["actions"][k] = {"runs": rs, **_runs_summary(rs, keys)}

        prov = _started(ProviderProcess(provider_argv(INCREMENTER), tmp, sink.path,
                                        to_name="bodies.sock"), sink)
        try:
            sized = {label: json.dumps(action_body("incrstatus", model=machine_object(size))).encode()
                     for label, size in BODY_SIZES.items()}
            runs = {label: [] for label in sized}
            for label, body in sized.items():
                _provider_run(prov, sink, body, 1, max(5, plan.body_counts[label] // 5))
            for order in _rotations(list(sized), plan.growth_reps):
                for label in order:
                    runs[label].append(_provider_run(prov, sink, sized[label], 1,
                                                     plan.body_counts[label]))
            result["bodies_rss_after_mb"] = round(prov.rss_kb() / 1024, 2)
        finally:
            prov.stop()
        for label, rs in runs.items():
            result["bodies"][label] = {"body_bytes": len(sized[label]), "runs": rs,
                                       **_runs_summary(rs, keys)}
    return result


def bench_concurrency(plan: Plan) -> dict[str, Any]:
    from .concurrency import bench_concurrency as run

    return run(plan.quick)


SECTIONS: dict[str, Callable[[Plan], dict[str, Any]]] = {
    "define": bench_define,
    "spawn": bench_spawn,
    "actions": bench_actions,
    "events": bench_events,
    "rss": bench_rss,
    "growth": bench_growth,
    "concurrency": bench_concurrency,
}


def run_all(plan: Plan, only: list[str] | None = None,
            progress: Callable[[str], None] = print) -> dict[str, Any]:
    from .util import machine_info

    results: dict[str, Any] = {"meta": {"quick": plan.quick, "plan": asdict(plan),
                                        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                        "machine_before": machine_info()},
                               "sections": {}}
    t_all = time.perf_counter()
    with scratch("drp-bench-build-") as build_dir:
        if not only or {"define", "spawn", "actions"} & set(only):
            progress("[bench] building the incrementer into one file ...")
            BUILT.prepare(build_dir)
            results["meta"]["built"] = BUILT.reason or f"{BUILT.path} run as {' '.join(BUILT.argv())}"
        _run_sections(plan, only, progress, results)
    results["meta"]["seconds"] = round(time.perf_counter() - t_all, 2)
    results["meta"]["machine_after"] = machine_info()
    return results


def _run_sections(plan: Plan, only: list[str] | None, progress: Callable[[str], None],
                  results: dict[str, Any]) -> None:
    for name, fn in SECTIONS.items():
        if only and name not in only:
            continue
        progress(f"[bench] {name} ...")
        t0 = time.perf_counter()
        try:
            results["sections"][name] = fn(plan)
        except Exception as exc:
            results["sections"][name] = {"error": f"{type(exc).__name__}: {exc}",
                                         "traceback": traceback.format_exc()}
        results["sections"][name]["section_seconds"] = round(time.perf_counter() - t0, 2)
        progress(f"[bench] {name} done in {time.perf_counter() - t0:.1f}s")
